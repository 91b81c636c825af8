"""The support assistant: services, Rasa components and the process runner."""
