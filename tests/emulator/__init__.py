"""Tests of the Graph presence and Entra ID emulator."""
