"""Retrieval building blocks: what turns a question's words into terms to look up."""
