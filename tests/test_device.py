"""The account's device, as the device page shows it."""

from __future__ import annotations

from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.teams_presence_keeper.const import DOMAIN


async def test_one_service_device_per_account(
    device_registry: dr.DeviceRegistry, setup_integration: MockConfigEntry
) -> None:
    """Named after the person; the product as Microsoft spells it, in any language."""
    [device] = dr.async_entries_for_config_entry(
        device_registry, setup_integration.entry_id
    )
    assert device.identifiers == {(DOMAIN, setup_integration.unique_id)}
    assert device.name == "Adele Vance"
    assert device.manufacturer == "Microsoft"
    assert device.model == "Microsoft Teams"
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    assert device.configuration_url == "https://teams.microsoft.com"
