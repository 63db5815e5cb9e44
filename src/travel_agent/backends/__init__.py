"""The backing services: MongoDB and Redis gateways, circuit breakers, health checks and start-up checks."""
