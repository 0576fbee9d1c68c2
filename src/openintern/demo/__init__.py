"""`intern demo`: an offline research session with scripted model turns."""
