"""Test kits for the phone line: callers made of real recorded speech, reference texts for recognition tests."""
