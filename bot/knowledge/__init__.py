"""The help-article knowledge base: parse and lint articles, index them, search them.

Modules, from the files up: `articles` (parse), `lint` (check), `passages` (split),
`index` (embed and store, versioned), `search` (hybrid ranking and the answer decision),
`service` (`KnowledgeBase`, what actions use), `cli` (`python -m bot.knowledge.cli`).
Nothing is loaded on import: the embedding model is only touched when something is embedded.
"""
