"""Chat: what people send the bot (messages, @mentions, card clicks) and how it answers."""
