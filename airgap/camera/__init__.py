"""Where frames come from: real cameras, video files, image folders, text lines, and a simulator."""
