"""Tests of the Graph presence client, against the emulator over loopback HTTP."""
