"""Blueprints, one per area; thin: parse the form, call a domain function, render."""
