"""The product packages a tenant can be on (seed, "Product Packages")."""

from enum import StrEnum


class Plan(StrEnum):
    ESSENTIAL = "essential"
    PROFESSIONAL = "professional"
