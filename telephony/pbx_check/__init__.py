"""`callcentre pbx check`: does a live Asterisk provide everything the product needs?

`run.check_pbx` runs it: `checks` judges (pure), `probe` asks the PBX over AMI,
`expectations` says what is needed (telephony/contract.py, asterisk-conf/, the server's
settings), `report` prints the lines.
"""
