"""The production shape, long: several minutes of rolling restarts behind HAProxy under retrying chat load,
repeated Redis Sentinel failovers, and Heroku's router limits in real time. ``python -m tools.production``."""
