"""petakota analysis core: plain functions over files, arrays and GeoDataFrames.

Nothing in this package imports Flask, Folium or the web layer, so it can be used from a notebook
or a batch job.
"""
