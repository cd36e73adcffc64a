"""The Telegram command bot that runs inside `run`, and the out-of-band trade confirmation it carries."""
