"""Alert delivery: channels, policy, outbox and the delivery worker."""
