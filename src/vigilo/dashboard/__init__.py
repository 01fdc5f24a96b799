"""The web dashboard: login, sessions, and the data its pages show (templates: vigilo/web/dashboard)."""
