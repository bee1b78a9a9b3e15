"""Tests of the Teams Presence integration."""
