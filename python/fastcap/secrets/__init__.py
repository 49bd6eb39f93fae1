"""Secrets: the patterns that find them, redaction of every file fastcap writes, and the leak scan."""
