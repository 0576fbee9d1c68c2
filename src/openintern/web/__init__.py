"""The web app: watch, steer and review research sessions in the browser."""
