"""Voice gateway: telephony audio, speech detection, recognition and synthesis for the phone line."""
