"""Getting replies to Slack from the bot's side: the Web API client and its retry policy
(client), the delivery pool that keeps slow posting off the listener threads (pool), and
whether an ack went out in time (ack_receipt)."""
