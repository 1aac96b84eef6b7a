"""Demo data, never imported by production code: `callcentre seed` and `callcentre demo`
(web/cli.py, web/demo.py) are its only users, which tests/test_layering.py checks.

`seed` plans and writes a Xi'an renovation company with customers, projects and their
callback history through the services, then `floor` puts the floor to work (a running
campaign, promised call backs, coded calls, QA's queue); `names` holds the word lists they
draw from.
"""
