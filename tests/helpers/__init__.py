"""What the tests share besides fixtures (those stay in tests/conftest.py), one module per job:

- databases: fresh migrated databases per test (SQLite file copies, PostgreSQL templates)
- apps: a test app on a database and an SMTP server; joining its mail threads
- servers: the loopback SMTP server that receives every mail, a live WSGI server, free ports
- browser: how Playwright starts Chromium
- client: the CSRF-aware Flask test client and signing in
- world: factories building people, sites and members through the domain layer
- module_world: one world built per test module and cloned for each of its tests
- mail: reading the mails the SMTP server received (text, HTML, links)
- pages: reading the HTML of responses with a parser (words, elements, attributes, tokens)
- state: every row of every table, and moving the database clock
"""
