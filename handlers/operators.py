"""Operators' desk (placeholder until the desk lands)."""

from aiogram import Router

router = Router(name="operators")
