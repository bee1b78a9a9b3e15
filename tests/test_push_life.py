"""Instant updates over time: outages, the cloud, addresses, options and certificates.

The subscription's life (``push.py``) against the emulator, Home Assistant Cloud as
the real component with Nabu Casa simulated (``tests/cloud.py``). The fixtures are
``tests/test_push.py``'s.
"""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from yarl import URL

from custom_components.teams_presence_keeper.const import (
    CONF_INSTANT_UPDATES,
    DOMAIN,
    LOGGER,
)
from custom_components.teams_presence_keeper.graph import NotificationCertificate
from custom_components.teams_presence_keeper.graph.encryption import ROTATION_MARGIN
from custom_components.teams_presence_keeper.policy import SUBSCRIPTION_LAST_RETRY
from custom_components.teams_presence_keeper.push_certificates import (
    PREVIOUS_CERTIFICATE_KEPT,
)
from graph_emulator import GraphEmulator
from graph_emulator.delivery import Post, Reply
from tests import test_push
from tests.cloud import CLOUDHOOK_HOST, CloudRelay
from tests.common import PRESENCE, advance, reauth_flows, state_of
from tests.sign_in_guard import SIGN_IN_GUARDS
from tests.sign_in_helpers import async_device_code_entry
from tests.test_push import (
    EXTERNAL_URL,
    UPDATE_MODE,
    advance_delivering,
    our_issues,
    presence_reads,
    push_of,
    settle,
    subscription_requests,
)

# tests/test_push.py's fixtures, for these tests too.
cloud = test_push.cloud
cloud_connected = test_push.cloud_connected
external_url = test_push.external_url
granted_scopes = test_push.granted_scopes
options = test_push.options
push_entry = test_push.push_entry
rich_refused = test_push.rich_refused
with_cloud = test_push.with_cloud

UNREACHABLE_URL = "https://unreachable.example.org"


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The integration's warnings (asyncio's about slow steps are the clock's jumps)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith(LOGGER.name)
    ]


def address_issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(
        DOMAIN, f"instant_updates_address_{entry.entry_id}"
    )


async def test_a_subscription_outage_keeps_its_back_off_while_reads_work(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Reads prove Graph answers, not that its subscriptions do: 1, 2... 30 minutes."""
    await advance(hass, freezer, timedelta(minutes=29), step=timedelta(minutes=1))
    emulator.subscriptions.outage = 503
    emulator.requests.clear()
    caplog.clear()

    await advance(hass, freezer, timedelta(hours=1), step=timedelta(seconds=30))

    # The renewal at 30 minutes, then 1, 2, 4, 8 and 16 minutes after each failure;
    # push having stopped, each retry replaces the subscription (push_freshness.py).
    assert subscription_requests(emulator) == [("PATCH", 503)] + [("DELETE", 503)] * 5
    assert warnings_in(caplog) == [
        "Instant updates paused, presence is read instead: Service Unavailable."
    ]
    assert state_of(hass, UPDATE_MODE) == "polling"
    assert presence_reads(emulator) >= 60  # at the read interval

    emulator.subscriptions.outage = None
    await advance(hass, freezer, SUBSCRIPTION_LAST_RETRY, step=timedelta(minutes=1))
    assert state_of(hass, UPDATE_MODE) == "push_external"
    # Graph let the subscription expire meanwhile: made again.
    assert subscription_requests(emulator)[6:] == [("DELETE", 404), ("POST", 201)]


@pytest.mark.parametrize("with_cloud", [True])
@pytest.mark.parametrize("cloud_connected", [False])
@pytest.mark.parametrize("external_url", [None])
async def test_a_cloudhook_the_cloud_fails_to_create_is_retried(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    cloud: CloudRelay,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nabu Casa's cloudhook API fails twice: polling, then push by the back-off."""
    cloud.cloudhook_failures = 2
    cloud.set_connected(True)
    await settle(hass, emulator)
    assert state_of(hass, UPDATE_MODE) == "polling"
    assert cloud.cloudhooks == {}
    assert subscription_requests(emulator) == []

    await advance_delivering(hass, freezer, emulator, timedelta(minutes=4))

    assert state_of(hass, UPDATE_MODE) == "push_cloudhook"
    [subscription] = emulator.subscriptions.all()
    assert URL(subscription.notification_url).host == CLOUDHOOK_HOST
    paused = "Instant updates paused, presence is read instead: Home Assistant Cloud"
    assert warnings_in(caplog) == [
        f"{paused} could not create the cloudhook (CloudhookApiError)"
    ]
    # No traceback: the cloud's error was handled, not left in a failed task.
    assert "never retrieved" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info and r.name == LOGGER.name]


async def test_an_external_url_graph_cannot_reach_raises_the_address_repair(
    hass: HomeAssistant, emulator: GraphEmulator, push_entry: MockConfigEntry
) -> None:
    delivery = emulator.subscriptions.delivery
    internet = delivery.transport

    async def no_route_to_unreachable(post: Post) -> Reply:
        if URL(post.url).host == URL(UNREACHABLE_URL).host:
            raise OSError("No route to host")
        return await internet(post)

    delivery.transport = no_route_to_unreachable
    await hass.config.async_update(external_url=UNREACHABLE_URL)
    await settle(hass, emulator)

    assert state_of(hass, UPDATE_MODE) == "polling"
    issue = address_issue(hass, push_entry)
    assert issue is not None
    assert issue.translation_key == "instant_updates_unreachable"
    assert issue.translation_placeholders == {
        "account": "Adele Vance",
        "client_id": push_entry.runtime_data.problems.client_id,
        "url": UNREACHABLE_URL,
    }

    await hass.config.async_update(external_url=EXTERNAL_URL)
    await settle(hass, emulator)
    assert state_of(hass, UPDATE_MODE) == "push_external"
    assert not our_issues(hass)


@pytest.mark.parametrize(
    ("granted_scopes", "external_url", "kind"),
    [
        (("Presence.ReadWrite", "User.Read"), EXTERNAL_URL, "instant_updates_consent"),
        (
            ("Presence.ReadWrite", "User.Read", "Presence.Read.All"),
            None,
            "instant_updates_address",
        ),
    ],
)
async def test_turning_instant_updates_off_removes_its_repairs(
    hass: HomeAssistant, push_entry: MockConfigEntry, kind: str
) -> None:
    assert our_issues(hass) == {f"{kind}_{push_entry.entry_id}"}
    result = await hass.config_entries.options.async_init(push_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**push_entry.options, CONF_INSTANT_UPDATES: False}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert push_entry.runtime_data.push is None
    assert not our_issues(hass)


@SIGN_IN_GUARDS
@pytest.mark.parametrize("entries_set_up_for_real", [True])
async def test_turning_instant_updates_on_before_consent_keeps_reading(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> None:
    """The tenant has not consented to Presence.Read.All: read with what was granted."""
    entry = await async_device_code_entry(hass, emulator)
    await hass.async_block_till_done()
    await async_process_ha_core_config(hass, {"external_url": EXTERNAL_URL})
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_INSTANT_UPDATES: True}
    )
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert entry.state is ConfigEntryState.LOADED
    emulator.set_client_session("teams", "Busy", "InACall")
    await advance(hass, freezer, timedelta(seconds=30))
    assert state_of(hass, PRESENCE) == "busy"
    assert state_of(hass, UPDATE_MODE) == "polling"
    assert our_issues(hass) == {f"instant_updates_consent_{entry.entry_id}"}
    assert len(reauth_flows(hass)) == 1
    assert subscription_requests(emulator) == []


@SIGN_IN_GUARDS
@pytest.mark.parametrize("entries_set_up_for_real", [True])
async def test_turning_instant_updates_on_after_an_administrator_s_grant(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> None:
    """An administrator granted Presence.Read.All, which the sign-in did not ask for.

    Entra names it in every token (consent is additive), so push needs no sign-in.
    """
    emulator.default_app.consented_scopes.add("Presence.Read.All")
    entry = await async_device_code_entry(hass, emulator)
    await hass.async_block_till_done()
    await async_process_ha_core_config(hass, {"external_url": EXTERNAL_URL})
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_INSTANT_UPDATES: True}
    )
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert entry.state is ConfigEntryState.LOADED
    assert f"instant_updates_consent_{entry.entry_id}" not in our_issues(hass)
    assert reauth_flows(hass) == []
    # Graph took the token for a subscription (only its address is unreachable here).
    [(method, status), *_] = subscription_requests(emulator)
    assert (method, status) == ("POST", 400)


@pytest.mark.parametrize("with_cloud", [True])
async def test_both_urls_move_between_the_cloudhook_and_the_external_url(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    cloud: CloudRelay,
) -> None:
    """Graph cannot change a lifecycle URL: the subscription is made again at the new one."""
    [subscription] = emulator.subscriptions.all()
    assert subscription.lifecycle_url == subscription.notification_url
    assert URL(subscription.notification_url).host == CLOUDHOOK_HOST

    cloud.set_connected(False)
    await settle(hass, emulator)
    [subscription] = emulator.subscriptions.all()
    assert subscription.notification_url.startswith(EXTERNAL_URL)
    assert subscription.lifecycle_url == subscription.notification_url
    assert push_of(push_entry).subscription["id"] == subscription.id
    assert state_of(hass, UPDATE_MODE) == "push_external"
    # Graph's reauthorization challenge reaches Home Assistant and is answered.
    emulator.subscriptions.require_reauthorization()
    await settle(hass, emulator)
    assert [call.status for call in emulator.graph_calls("reauthorize")] == [204]

    cloud.set_connected(True)
    await settle(hass, emulator)
    [subscription] = emulator.subscriptions.all()
    assert URL(subscription.notification_url).host == CLOUDHOOK_HOST
    assert subscription.lifecycle_url == subscription.notification_url
    assert state_of(hass, UPDATE_MODE) == "push_cloudhook"
    emulator.set_client_session("teams", "Busy", "InACall")
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) == "busy"


async def test_a_notification_for_the_previous_certificate_after_a_restart(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Graph retries a notification encrypted before the rotation; a restart came between."""
    push = push_of(push_entry)
    await hass.config_entries.async_unload(push_entry.entry_id)
    # A certificate due for rotation in 45 minutes.
    expiring = NotificationCertificate.generate(
        lifetime=ROTATION_MARGIN + timedelta(minutes=45)
    )
    stored: dict[str, Any] = push._as_dict() | {"certificate": expiring.to_storage()}
    await push._store.async_save(stored)
    assert await hass.config_entries.async_setup(push_entry.entry_id)
    await settle(hass, emulator)
    [subscription] = emulator.subscriptions.all()
    assert subscription.certificate_id == expiring.id

    delivery = emulator.subscriptions.delivery
    internet = delivery.transport

    async def down(post: Post) -> Reply:
        raise OSError("Home Assistant is unreachable")

    delivery.transport = down
    emulator.set_client_session("teams", "Busy", "InACall")
    await advance_delivering(hass, freezer, emulator, timedelta(minutes=61))
    [encrypted_before] = {
        id(sent.body): sent.body for sent in delivery.sent if sent.body
    }.values()
    # Rotated while subscribing again (push was seen not to work): the expiring
    # certificate is now the previous one, kept beside the new.
    assert [c.id for c in push_of(push_entry).certificates][1:] == [expiring.id]

    assert await hass.config_entries.async_reload(push_entry.entry_id)
    await settle(hass, emulator)
    delivery.transport = internet
    await advance_delivering(hass, freezer, emulator, timedelta(minutes=70))

    answers = [sent.status for sent in delivery.sent if sent.body is encrypted_before]
    assert answers[-1] == 202
    counts = push_of(push_entry).counts
    assert counts["accepted"] == 1  # decrypted with the previous key, then judged
    assert not [reason for reason in counts if reason.startswith("rejected")]

    # Once Graph can no longer retry with it, the previous key is forgotten.
    await advance(hass, freezer, PREVIOUS_CERTIFICATE_KEPT, step=timedelta(minutes=5))
    await hass.config_entries.async_unload(push_entry.entry_id)
    stored = hass_storage[f"{DOMAIN}.{push_entry.entry_id}.push"]["data"]
    [current] = emulator.subscriptions.all()
    assert stored["certificate"]["id"] == current.certificate_id
    assert stored["previous_certificate"] is None
