"""Tests of the Teams Presence Keeper integration."""
