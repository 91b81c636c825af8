"""Custom actions, one module per topic. They translate between Rasa and the services in `bot`."""
