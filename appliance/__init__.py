"""The signing station inside the cage: HSM, custodian cards, policy, audit log, ceremony."""
