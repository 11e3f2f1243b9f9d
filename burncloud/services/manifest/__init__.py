"""Configuration as code: the manifest model, its file form, export, plan and apply."""
