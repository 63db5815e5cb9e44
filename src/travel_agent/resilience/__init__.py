"""Resilience primitives shared by every dependency: the circuit breaker (MongoDB, Redis, the model upstream)."""
