"""The web app: the agent desk, the leads' console and the JSON API they use (`python -m bot.web`)."""
