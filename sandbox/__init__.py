"""Local emulation of the PartnerStack and Stripe APIs."""
