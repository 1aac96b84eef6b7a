"""Our narrow interface to the Asterisk Manager Interface, built on panoramisk."""
