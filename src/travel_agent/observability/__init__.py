"""What the service tells its operators: metric recorders, the ``/metrics`` view, logging, error reporting."""
