"""Knowledge-base administration from Slack: ``/kb`` (command) and files sent to the bot
(upload), with what both share (admin) and their audit records (records)."""
