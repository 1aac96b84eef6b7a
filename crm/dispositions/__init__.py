"""Dispositions: why each answered call happened, coded by its agent in wrap-up."""
