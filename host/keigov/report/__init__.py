"""Run reports: timeline plots, JUnit XML, check tables."""
