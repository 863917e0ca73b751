"""The stage panels, one module each; :mod:`ui.panels.tabs` lists them in the study's order.

The list is a module of its own because the panels import torch and friends: the main window
imports it only once it is on screen, while the Overview (``study_dashboard``) loads with it.
"""
