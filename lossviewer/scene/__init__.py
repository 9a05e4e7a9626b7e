"""The application state (what is shown), Qt-free and observable."""
