"""Measuring labels: CVPPP metrics, leaf and plant traits, the classical baseline, scale, reports."""
