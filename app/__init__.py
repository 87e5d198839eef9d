"""cnnsteps web app and command line."""
