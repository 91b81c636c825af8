"""The reliability and security battery (`make bench-reliability`, issue 16): generated bad input on every
entry point, the desk's sign-in and headers, personal data in the logs, against the real servers."""
