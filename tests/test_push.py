"""Instant updates: Graph's change notifications through Home Assistant's webhook.

Graph's side is the emulator; its deliveries reach Home Assistant's real webhook
view through ``hass_client_no_auth`` (the internet between them is the transport).
Home Assistant Cloud is the real component (``tests/cloud.py``), with only Nabu
Casa's account, connection and relay simulated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
import logging
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import (
    SOURCE_REAUTH,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.const import CONF_CLIENT_ID
from homeassistant.core import HomeAssistant
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    start_reauth_flow,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from yarl import URL

from custom_components.teams_presence_keeper.auth.entry import (
    lacks_instant_updates_consent,
)
from custom_components.teams_presence_keeper.const import (
    CONF_CLEAR_ON_REMOVE,
    CONF_EXPIRATION,
    CONF_INSTANT_UPDATES,
    CONF_READ_INTERVAL,
    CONF_TENANT,
    DEFAULT_TENANT,
    DOMAIN,
)
from custom_components.teams_presence_keeper.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.teams_presence_keeper.push import PushManager
from custom_components.teams_presence_keeper.push_freshness import (
    SAFETY_READ_INTERVAL,
    WORST_DELIVERY_TIME,
)
from graph_emulator import GraphEmulator
from graph_emulator.delivery import RETRY_FOR, Post, Reply
from graph_emulator.graph_api import GraphError
from graph_emulator.subscriptions import Subscriptions
from tests.cloud import CLOUDHOOK_HOST, CloudRelay, logged_in_cloud
from tests.common import (
    CLIENT_ID,
    PRESENCE,
    advance,
    reauth_flows,
    state_of,
    step_until,
)
from tests.conftest import TOKEN_LIFETIME_SECONDS
from tests.sign_in_helpers import (
    async_application_entry,
    async_browser_reconfigure_to_app,
    async_browser_sign_in,
    async_device_code_entry,
    async_start_reconfigure,
    async_wait_for_device_code,
)

EXTERNAL_URL = "https://teams.example.org"
UPDATE_MODE = "sensor.adele_vance_update_mode"
PUSH_SCOPES = ("Presence.ReadWrite", "User.Read", "Presence.Read.All")


@pytest.fixture
def options() -> dict[str, Any]:
    return {
        CONF_READ_INTERVAL: 30,
        CONF_EXPIRATION: 60,
        CONF_CLEAR_ON_REMOVE: False,
        CONF_INSTANT_UPDATES: True,
    }


@pytest.fixture
def granted_scopes() -> tuple[str, ...]:
    """What the stored sign-in was granted."""
    return PUSH_SCOPES


@pytest.fixture
def with_cloud() -> bool:
    """No Home Assistant Cloud unless a test says so."""
    return False


@pytest.fixture
def cloud_connected() -> bool:
    """Whether Home Assistant Cloud is connected when the account is set up."""
    return True


@pytest.fixture
async def cloud(
    hass: HomeAssistant, with_cloud: bool, cloud_connected: bool
) -> AsyncIterator[CloudRelay | None]:
    """Home Assistant Cloud, logged in with a subscription, where a test asks for it."""
    if not with_cloud:
        yield None
        return
    async with logged_in_cloud(hass) as relay:
        relay.connected = cloud_connected
        yield relay


@pytest.fixture
def external_url() -> str | None:
    return EXTERNAL_URL


@pytest.fixture
def rich_refused() -> bool:
    """Whether this Graph refuses includeResourceData (basic notifications only)."""
    return False


@pytest.fixture
async def push_entry(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    granted_scopes: tuple[str, ...],
    cloud: CloudRelay | None,
    external_url: str | None,
    rich_refused: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> MockConfigEntry:
    """The account with Instant updates, Graph delivering into Home Assistant."""
    token = {
        **config_entry.data["token"],
        "access_token": emulator.issue_token(
            scopes=granted_scopes, lifetime=timedelta(seconds=TOKEN_LIFETIME_SECONDS)
        ),
        "scope": " ".join(granted_scopes),
        "expires_at": time.time() + TOKEN_LIFETIME_SECONDS,
    }
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, "token": token}
    )
    emulator.default_app.consented_scopes.add("Presence.Read.All")
    if external_url:
        await async_process_ha_core_config(hass, {"external_url": external_url})
    # Views are registered before the test client freezes the router.
    assert await async_setup_component(hass, "webhook", {})
    client = await hass_client_no_auth()

    async def internet(post: Post) -> Reply:
        url = URL(post.url)
        path = url.path
        if url.host == CLOUDHOOK_HOST:
            if cloud is None:
                raise OSError("Not a Home Assistant Cloud customer")
            path = cloud.webhook_path(post.url)
        async with client.post(
            URL(path).with_query(url.query),
            data=post.body,
            headers={"Content-Type": post.content_type},
        ) as response:
            return Reply(response.status, response.content_type, await response.text())

    emulator.subscriptions.delivery.transport = internet
    if rich_refused:

        def refuse(*_: object) -> None:
            raise GraphError(
                400, "InvalidRequest", "includeResourceData is not supported."
            )

        monkeypatch.setattr(Subscriptions, "_encryption", refuse)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await settle(hass, emulator)
    return config_entry


async def settle(hass: HomeAssistant, emulator: GraphEmulator) -> None:
    """Let Graph send what is due and Home Assistant finish with it."""
    for _ in range(3):
        await hass.async_block_till_done(wait_background_tasks=True)
        await emulator.subscriptions.settle()
    await hass.async_block_till_done(wait_background_tasks=True)


async def advance_delivering(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    duration: timedelta,
    step: timedelta = timedelta(seconds=30),
) -> None:
    """Move the clock a step at a time, Graph delivering what is due after each.

    A delivery still in flight when the clock jumps would time out at once.
    """
    end = dt_util.utcnow() + duration
    while dt_util.utcnow() < end:
        await advance(hass, freezer, step, step=step)
        await settle(hass, emulator)


def push_of(entry: MockConfigEntry) -> PushManager:
    push = entry.runtime_data.push
    assert isinstance(push, PushManager)
    return push


def fields_of(result: ConfigFlowResult) -> set[str]:
    assert result["data_schema"] is not None
    return {str(key) for key in result["data_schema"].schema}


def reauth_flow(hass: HomeAssistant) -> ConfigFlowResult:
    """The one reauthentication flow in progress."""
    [flow] = [
        flow
        for flow in hass.config_entries.flow.async_progress()
        if flow["handler"] == DOMAIN and flow["context"]["source"] == SOURCE_REAUTH
    ]
    return flow


def our_issues(hass: HomeAssistant) -> set[str]:
    return {issue for domain, issue in ir.async_get(hass).issues if domain == DOMAIN}


def presence_reads(emulator: GraphEmulator) -> int:
    return len(
        [call for call in emulator.graph_calls("presence") if call.method == "GET"]
    )


def subscription_requests(emulator: GraphEmulator) -> list[tuple[str, int]]:
    return [
        (call.method, call.status)
        for call in emulator.requests
        if "/subscriptions" in call.path
    ]


async def test_option_on_subscribes_with_the_webhook(
    hass: HomeAssistant, emulator: GraphEmulator, push_entry: MockConfigEntry
) -> None:
    push = push_of(push_entry)
    url = f"{EXTERNAL_URL}/api/webhook/{push.webhook_id}"
    [create] = [
        call for call in emulator.graph_calls("subscriptions") if call.method == "POST"
    ]
    body = create.body
    assert create.status == 201
    assert {key: body[key] for key in body if key != "expirationDateTime"} == {
        "changeType": "updated",
        "notificationUrl": url,
        "lifecycleNotificationUrl": url,
        "resource": f"communications/presences/{emulator.default_user.id}",
        "clientState": push.client_state,
        "includeResourceData": True,
        "encryptionCertificate": push.certificates[0].public_base64,
        "encryptionCertificateId": push.certificates[0].id,
    }
    [subscription] = emulator.subscriptions.all()
    assert subscription.expires_at - emulator.clock() > timedelta(minutes=54)
    assert len(push.client_state) >= 32
    # Both handshakes went through Home Assistant's webhook, answered as Graph asks.
    assert [sent.status for sent in emulator.subscriptions.delivery.sent] == [200, 200]
    assert state_of(hass, UPDATE_MODE) == "push_external"
    assert push_entry.runtime_data.coordinator.update_interval == SAFETY_READ_INTERVAL


async def test_a_teams_change_reaches_the_sensor_without_a_read(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
) -> None:
    push = push_of(push_entry)
    reads = presence_reads(emulator)
    assert state_of(hass, PRESENCE) == "offline"

    # From the start: a new subscription has no failed deliveries Graph could retry.
    emulator.set_client_session("teams", "Away", "Away")
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) == "away"

    await advance(hass, freezer, timedelta(minutes=5), step=timedelta(minutes=1))
    emulator.set_client_session("teams", "Busy", "InACall")
    await settle(hass, emulator)

    assert state_of(hass, PRESENCE) == "busy"
    assert state_of(hass, "sensor.adele_vance_activity") == "in_a_call"
    assert presence_reads(emulator) == reads
    assert push.counts == {"accepted": 2}


async def test_a_late_rich_notification_never_overwrites_a_newer_one(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
) -> None:
    """Rich notifications carry no sequence number: one close behind another is read."""
    push = push_of(push_entry)
    await advance(hass, freezer, RETRY_FOR, step=timedelta(minutes=1))
    emulator.set_client_session("teams", "Away", "Away")
    await settle(hass, emulator)
    await advance(hass, freezer, WORST_DELIVERY_TIME)
    reads, confirmed = presence_reads(emulator), push.counts["confirmed_by_read"]

    emulator.subscriptions.delivery.overtake(1)
    emulator.set_client_session("teams", "Busy", "InACall")  # arrives last
    emulator.set_client_session("teams", "Available", "Available")
    await settle(hass, emulator)

    assert state_of(hass, PRESENCE) == "available"
    assert presence_reads(emulator) == reads + 1
    assert push.counts["confirmed_by_read"] == confirmed + 1


async def test_forged_notifications_are_counted_never_applied(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    client = await hass_client_no_auth()
    push = push_of(push_entry)
    forged = {
        "value": [
            {
                "subscriptionId": push.subscription["id"],
                "clientState": "guessed",
                "resourceData": {"id": emulator.default_user.id},
            }
        ]
    }
    response = await client.post(f"/api/webhook/{push.webhook_id}", json=forged)
    assert response.status == 202
    await settle(hass, emulator)
    assert push.counts == {"rejected_client_state": 1}


async def test_renewal_every_30_minutes_and_404_subscribes_again(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
) -> None:
    push = push_of(push_entry)
    first = push.subscription["id"]
    await advance(hass, freezer, timedelta(minutes=61), step=timedelta(minutes=1))
    await settle(hass, emulator)
    assert [s.id for s in emulator.subscriptions.all()] == [first]
    assert subscription_requests(emulator).count(("PATCH", 200)) == 2

    emulator.subscriptions._subscriptions.clear()  # Graph lost it
    await advance(hass, freezer, timedelta(minutes=28), step=timedelta(minutes=1))
    emulator.set_client_session("teams", "Busy", "InACall")  # never notified
    reads = presence_reads(emulator)
    await advance(hass, freezer, timedelta(minutes=2), step=timedelta(minutes=1))
    await settle(hass, emulator)

    [subscription] = emulator.subscriptions.all()
    assert subscription.id != first
    assert push.subscription["id"] == subscription.id
    assert ("PATCH", 404) in subscription_requests(emulator)
    assert presence_reads(emulator) > reads  # the change it missed is read
    assert state_of(hass, PRESENCE) == "busy"
    assert state_of(hass, UPDATE_MODE) == "push_external"


@pytest.mark.parametrize("ours", [True, False])
async def test_409_replaces_the_subscription_graph_holds(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    ours: bool,
) -> None:
    push = push_of(push_entry)
    old = push.subscription["id"]
    await hass.config_entries.async_unload(push_entry.entry_id)
    # The store lost the subscription (restored from an old backup); Graph has it.
    push_store_data = push._as_dict() | {"subscription": {}}
    if not ours:
        push_store_data["client_state"] = "another-installation"
    await push._store.async_save(push_store_data)
    emulator.requests.clear()

    assert await hass.config_entries.async_setup(push_entry.entry_id)
    await settle(hass, emulator)

    requests = subscription_requests(emulator)
    assert requests[:2] == [("POST", 409), ("GET", 200)]
    # Ours too: Graph may retry into it what failed to arrive while we were down.
    assert requests[2:] == [("DELETE", 204), ("POST", 201)]
    [subscription] = emulator.subscriptions.all()
    assert subscription.id != old
    assert push_of(push_entry).subscription["id"] == subscription.id


async def test_restart_replaces_the_stored_subscription(
    hass: HomeAssistant, emulator: GraphEmulator, push_entry: MockConfigEntry
) -> None:
    """What Graph retries into the old one from while Home Assistant was down is old."""
    old = push_of(push_entry).subscription["id"]
    emulator.requests.clear()
    assert await hass.config_entries.async_reload(push_entry.entry_id)
    await settle(hass, emulator)
    assert subscription_requests(emulator) == [("DELETE", 204), ("POST", 201)]
    assert [s.id for s in emulator.subscriptions.all()] != [old]

    emulator.set_client_session("teams", "DoNotDisturb", "Presenting")
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) == "do_not_disturb"


async def test_reauthorization_required_is_answered(
    hass: HomeAssistant, emulator: GraphEmulator, push_entry: MockConfigEntry
) -> None:
    emulator.subscriptions.require_reauthorization()
    await settle(hass, emulator)
    assert emulator.graph_calls("reauthorize")[-1].status == 204

    emulator.set_client_session("teams", "Away", "Away")
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) == "away"


async def test_server_errors_back_off_and_poll_meanwhile(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
) -> None:
    coordinator = push_entry.runtime_data.coordinator
    emulator.subscriptions._subscriptions.clear()
    await advance(hass, freezer, timedelta(minutes=29), step=timedelta(minutes=1))
    emulator.requests.clear()
    emulator.fail(3, 503)  # the renewal (404 would be next) and two retries
    await advance(hass, freezer, timedelta(minutes=1), step=timedelta(seconds=30))
    assert coordinator.update_interval == timedelta(seconds=30)
    assert state_of(hass, UPDATE_MODE) == "polling"
    # 1, then 2 minutes later: back to push.
    await advance(hass, freezer, timedelta(minutes=4), step=timedelta(seconds=30))
    await settle(hass, emulator)
    assert state_of(hass, UPDATE_MODE) == "push_external"
    assert coordinator.update_interval == SAFETY_READ_INTERVAL


async def test_push_returns_soon_after_a_long_outage(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
) -> None:
    """Once a read finds Graph back, push does not wait out its doubled back-off."""
    await advance(hass, freezer, timedelta(minutes=29), step=timedelta(minutes=1))
    await emulator.refuse_connections()
    await advance(hass, freezer, timedelta(minutes=20), step=timedelta(seconds=30))
    assert state_of(hass, UPDATE_MODE) == "polling"

    await emulator.accept_connections()
    back = dt_util.utcnow()
    await step_until(
        hass,
        freezer,
        lambda: state_of(hass, UPDATE_MODE) == "push_external",
        limit=timedelta(minutes=5),
    )
    assert dt_util.utcnow() - back <= timedelta(minutes=2)


async def test_watchdog_falls_back_when_a_change_goes_unannounced(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = push_entry.runtime_data.coordinator
    emulator.subscriptions.silent = True
    for availability, activity in (("Busy", "InACall"), ("Away", "Away")):
        emulator.set_client_session("teams", availability, activity)
        await advance(hass, freezer, timedelta(minutes=15), step=timedelta(minutes=1))
        await advance(hass, freezer, timedelta(minutes=2), step=timedelta(seconds=10))
        assert state_of(hass, UPDATE_MODE) == "polling"
        assert coordinator.update_interval == timedelta(seconds=30)
        # A notification that arrives shows push works again.
        emulator.subscriptions.silent = False
        emulator.set_client_session("teams", "Available", "Available")
        await settle(hass, emulator)
        assert state_of(hass, UPDATE_MODE) == "push_external"
        emulator.subscriptions.silent = True
    counts = push_of(push_entry).counts
    assert counts["watchdog_fallbacks"] == 2
    # Each fallback subscribed again: the new one's notifications are applied.
    assert counts["confirmed_by_read"] == 0
    assert caplog.text.count("did not announce") == 1


@pytest.mark.parametrize("with_cloud", [True])
@pytest.mark.parametrize("external_url", [None])
async def test_cloudhook_and_cloud_disconnect(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    cloud: CloudRelay,
) -> None:
    coordinator = push_entry.runtime_data.coordinator
    push = push_of(push_entry)
    [subscription] = emulator.subscriptions.all()
    assert URL(subscription.notification_url).host == CLOUDHOOK_HOST
    assert state_of(hass, UPDATE_MODE) == "push_cloudhook"
    emulator.set_client_session("teams", "Busy", "InACall")
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) == "busy"

    cloud.set_connected(False)
    await settle(hass, emulator)
    assert state_of(hass, UPDATE_MODE) == "polling"
    assert coordinator.update_interval == timedelta(seconds=30)
    # Without an external URL there is nowhere else: no repair while the cloud
    # subscription is active, it is only disconnected.
    assert not our_issues(hass)

    cloud.set_connected(True)
    await settle(hass, emulator)
    assert state_of(hass, UPDATE_MODE) == "push_cloudhook"
    assert coordinator.update_interval == SAFETY_READ_INTERVAL
    assert push.counts["accepted"] == 1


@pytest.mark.parametrize("with_cloud", [True])
@pytest.mark.parametrize("external_url", [None])
async def test_a_retried_notification_never_overwrites_a_newer_change(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    cloud: CloudRelay,
) -> None:
    """What failed to arrive while the cloud was away, Graph retries after it is back."""
    await advance(hass, freezer, RETRY_FOR, step=timedelta(minutes=1))
    sent = emulator.subscriptions.delivery.sent
    cloud.set_connected(False)
    await settle(hass, emulator)
    emulator.set_client_session("teams", "Busy", "InACall")
    await advance_delivering(hass, freezer, emulator, timedelta(minutes=2))
    assert state_of(hass, PRESENCE) == "busy"  # polling found it
    [busy] = {id(s.body): s for s in sent if s.status == 0}.values()
    cloud.set_connected(True)
    await settle(hass, emulator)
    assert state_of(hass, UPDATE_MODE) == "push_cloudhook"

    emulator.set_client_session("teams", "Available", "Available")
    await advance_delivering(hass, freezer, emulator, timedelta(minutes=10))

    assert [s.status for s in sent if s.body is busy.body][-1] == 202  # retried
    assert state_of(hass, PRESENCE) == "available"


@pytest.mark.parametrize("with_cloud", [True])
async def test_cloud_disconnect_moves_to_the_external_url(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    cloud: CloudRelay,
) -> None:
    cloud.set_connected(False)
    await settle(hass, emulator)
    [subscription] = emulator.subscriptions.all()
    assert subscription.notification_url.startswith(EXTERNAL_URL)
    assert state_of(hass, UPDATE_MODE) == "push_external"
    emulator.set_client_session("teams", "Busy", "InACall")
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) == "busy"


@pytest.mark.parametrize("external_url", [None, "http://teams.example.org"])
async def test_no_public_https_address_raises_a_repair_and_polls(
    hass: HomeAssistant, emulator: GraphEmulator, push_entry: MockConfigEntry
) -> None:
    assert emulator.subscriptions.all() == []
    assert state_of(hass, UPDATE_MODE) == "polling"
    assert push_entry.runtime_data.coordinator.update_interval == timedelta(seconds=30)
    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"instant_updates_address_{push_entry.entry_id}"
    )
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.WARNING

    await hass.config.async_update(external_url=EXTERNAL_URL)
    await settle(hass, emulator)
    assert len(emulator.subscriptions.all()) == 1
    assert state_of(hass, UPDATE_MODE) == "push_external"
    assert not our_issues(hass)


@pytest.mark.parametrize("granted_scopes", [("Presence.ReadWrite", "User.Read")])
async def test_missing_consent_asks_to_sign_in_again_and_polls(
    hass: HomeAssistant, emulator: GraphEmulator, push_entry: MockConfigEntry
) -> None:
    assert push_entry.state is ConfigEntryState.LOADED
    assert emulator.subscriptions.all() == []
    assert subscription_requests(emulator) == []
    assert reauth_flow(hass)["step_id"] == "reauth_consent"
    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"instant_updates_consent_{push_entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_placeholders == {
        "account": "Adele Vance",
        "client_id": push_entry.runtime_data.problems.client_id,
    }
    assert push_entry.runtime_data.coordinator.update_interval == timedelta(seconds=30)


async def test_graph_refusing_the_permission_raises_the_repair(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    options: dict[str, Any],
) -> None:
    """A token that names no scopes: Graph's 403 says what is missing."""
    hass.config_entries.async_update_entry(config_entry, options=options)
    await async_process_ha_core_config(hass, {"external_url": EXTERNAL_URL})
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert subscription_requests(emulator) == [("POST", 403)]
    assert ir.async_get(hass).async_get_issue(
        DOMAIN, f"instant_updates_consent_{config_entry.entry_id}"
    )
    # Not the presence write permission's repair: writes may work.
    assert not ir.async_get(hass).async_get_issue(
        DOMAIN, f"missing_permission_{config_entry.entry_id}"
    )
    assert len(reauth_flows(hass)) == 1


async def test_removal_deletes_the_subscription(
    hass: HomeAssistant, emulator: GraphEmulator, push_entry: MockConfigEntry
) -> None:
    assert len(emulator.subscriptions.all()) == 1
    await hass.config_entries.async_remove(push_entry.entry_id)
    await hass.async_block_till_done()
    assert emulator.subscriptions.all() == []
    assert subscription_requests(emulator)[-1] == ("DELETE", 204)


@pytest.mark.parametrize("with_cloud", [True])
@pytest.mark.parametrize("external_url", [None])
async def test_removal_deletes_the_cloudhook(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    cloud: CloudRelay,
) -> None:
    assert list(cloud.cloudhooks) == [push_of(push_entry).webhook_id]
    await hass.config_entries.async_remove(push_entry.entry_id)
    await hass.async_block_till_done()
    assert emulator.subscriptions.all() == []
    assert cloud.cloudhooks == {}


@pytest.mark.parametrize("with_cloud", [True])
@pytest.mark.parametrize("cloud_connected", [False])
async def test_removal_when_the_cloud_never_made_a_cloudhook(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    cloud: CloudRelay,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Logged in to the cloud, but the subscription went to the external URL."""
    assert state_of(hass, UPDATE_MODE) == "push_external"
    await hass.config_entries.async_remove(push_entry.entry_id)
    await hass.async_block_till_done()
    assert emulator.subscriptions.all() == []
    assert f"{DOMAIN}.{push_entry.entry_id}.push" not in hass_storage
    assert [
        r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
    ] == []


@pytest.mark.parametrize("with_cloud", [True])
@pytest.mark.parametrize("cloud_connected", [False])
@pytest.mark.parametrize("external_url", [None])
async def test_cloud_connecting_after_setup_starts_push(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    cloud: CloudRelay,
) -> None:
    """Home Assistant Cloud connects a while after Home Assistant has started."""
    assert state_of(hass, UPDATE_MODE) == "polling"
    # The cloud is on its way: nothing for the user to fix.
    assert not our_issues(hass)
    cloud.set_connected(True)
    await settle(hass, emulator)
    assert state_of(hass, UPDATE_MODE) == "push_cloudhook"
    [subscription] = emulator.subscriptions.all()
    assert URL(subscription.notification_url).host == CLOUDHOOK_HOST


async def test_option_off_deletes_the_subscription_and_polls(
    hass: HomeAssistant, emulator: GraphEmulator, push_entry: MockConfigEntry
) -> None:
    webhook_id = push_of(push_entry).webhook_id
    hass.config_entries.async_update_entry(
        push_entry, options={**push_entry.options, CONF_INSTANT_UPDATES: False}
    )
    await hass.config_entries.async_reload(push_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert emulator.subscriptions.all() == []
    assert push_entry.runtime_data.push is None
    assert webhook_id not in hass.data.get("webhook", {})
    assert hass.states.get(UPDATE_MODE) is None


@pytest.mark.parametrize(
    "options",
    [{CONF_READ_INTERVAL: 30, CONF_EXPIRATION: 60, CONF_CLEAR_ON_REMOVE: True}],
)
async def test_option_off_changes_nothing(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    assert setup_integration.runtime_data.push is None
    assert setup_integration.runtime_data.coordinator.update_interval == timedelta(
        seconds=30
    )
    assert subscription_requests(emulator) == []
    assert not hass.data.get("webhook")
    assert hass.states.get(UPDATE_MODE) is None


@pytest.mark.parametrize(
    "options",
    [{CONF_READ_INTERVAL: 30, CONF_EXPIRATION: 60, CONF_CLEAR_ON_REMOVE: True}],
)
async def test_options_offer_instant_updates_to_delegated_accounts_only(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    result = await hass.config_entries.options.async_init(setup_integration.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    assert CONF_INSTANT_UPDATES in fields_of(result)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_READ_INTERVAL: 30,
            CONF_EXPIRATION: 60,
            CONF_CLEAR_ON_REMOVE: True,
            CONF_INSTANT_UPDATES: True,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert setup_integration.options[CONF_INSTANT_UPDATES] is True
    assert setup_integration.runtime_data.push is not None


@pytest.mark.usefixtures("current_request_with_host")
@pytest.mark.parametrize("granted_scopes", [("Presence.ReadWrite", "User.Read")])
async def test_signing_in_again_grants_the_permission_and_push_starts(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    result = await hass.config_entries.flow.async_configure(
        reauth_flow(hass)["flow_id"], {}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: emulator.default_tenant_id}
    )
    assert URL(result["url"]).query["scope"] == (
        "Presence.ReadWrite User.Read Presence.Read.All offline_access openid"
    )
    result = await async_browser_sign_in(hass, hass_client_no_auth, result)
    assert result["reason"] == "reauth_successful"
    await settle(hass, emulator)

    assert "Presence.Read.All" in push_entry.data["token"]["scope"]
    assert len(emulator.subscriptions.all()) == 1
    assert state_of(hass, UPDATE_MODE) == "push_external"
    assert not our_issues(hass)


@pytest.mark.usefixtures("current_request_with_host")
async def test_reconfiguring_keeps_the_permission(
    hass: HomeAssistant, emulator: GraphEmulator, push_entry: MockConfigEntry
) -> None:
    result = await async_start_reconfigure(hass, push_entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: emulator.default_tenant_id}
    )
    assert "Presence.Read.All" in URL(result["url"]).query["scope"].split()


@pytest.mark.usefixtures("current_request_with_host")
async def test_reconfiguring_to_another_app_ends_the_old_subscription(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Only the old app may delete its subscription: left alone, it delivers an hour."""
    other_client_id = "22222222-2222-2222-2222-222222222222"
    emulator.add_app(
        client_id=other_client_id,
        secret="other-secret",
        consented_scopes=set(PUSH_SCOPES),
    )
    result = await async_browser_reconfigure_to_app(
        hass, hass_client_no_auth, push_entry, other_client_id, "other-secret"
    )
    assert result["reason"] == "reconfigure_successful"
    await settle(hass, emulator)

    [subscription] = emulator.subscriptions.all()
    assert subscription.app.client_id == other_client_id
    assert ("DELETE", 204) in subscription_requests(emulator)
    assert state_of(hass, UPDATE_MODE) == "push_external"


@pytest.mark.usefixtures("sign_in_guards")
async def test_device_code_sign_in_again_asks_for_the_permission(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    entry = await async_device_code_entry(hass, emulator)
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_INSTANT_UPDATES: True}
    )
    assert lacks_instant_updates_consent(entry)
    emulator.default_app.consented_scopes.add("Presence.Read.All")

    result = await start_reauth_flow(hass, entry)
    assert result["step_id"] == "reauth_consent"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: DEFAULT_TENANT, CONF_CLIENT_ID: CLIENT_ID}
    )
    result = await async_wait_for_device_code(hass, result)

    assert result["reason"] == "reauth_successful"
    assert not lacks_instant_updates_consent(entry)


@pytest.mark.usefixtures("sign_in_guards")
async def test_options_of_an_application_account_say_why_not(
    hass: HomeAssistant, emulator: GraphEmulator, enable_custom_integrations: None
) -> None:
    entry = await async_application_entry(hass, emulator)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "application"
    assert CONF_INSTANT_UPDATES not in fields_of(result)


@pytest.mark.parametrize("rich_refused", [True])
async def test_basic_notifications_where_rich_ones_are_refused(
    hass: HomeAssistant, emulator: GraphEmulator, push_entry: MockConfigEntry
) -> None:
    """Each basic notification is read; a burst during a read is one more read."""
    [subscription] = emulator.subscriptions.all()
    assert subscription.certificate is None
    assert subscription_requests(emulator)[:2] == [("POST", 400), ("POST", 201)]
    reads = presence_reads(emulator)

    emulator.set_client_session("teams", "Busy", "InACall")
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) == "busy"
    assert presence_reads(emulator) == reads + 1

    emulator.subscriptions.delivery.duplicate(3)
    emulator.delay(1, 0.5)  # the first read is slow: the rest arrive meanwhile
    for availability, activity in (("Away", "Away"), ("DoNotDisturb", "Presenting")):
        emulator.set_client_session("teams", availability, activity)
        emulator.subscriptions.notice_changes()
    await settle(hass, emulator)
    push = push_of(push_entry)
    assert state_of(hass, PRESENCE) == "do_not_disturb"
    assert push.counts["accepted"] == 5
    # Four notifications (two changes, each sent twice): two reads.
    assert push.counts["coalesced"] == 3
    assert presence_reads(emulator) - reads - 1 == 2


async def test_diagnostics_show_how_presence_arrives(
    hass: HomeAssistant, emulator: GraphEmulator, push_entry: MockConfigEntry
) -> None:
    emulator.set_client_session("teams", "Busy", "InACall")
    await settle(hass, emulator)
    diagnostics = await async_get_config_entry_diagnostics(hass, push_entry)
    [subscription] = emulator.subscriptions.all()
    push = push_of(push_entry)
    assert push.last_notification is not None
    assert diagnostics["updates"] == {
        "mode": "push_external",
        "subscription_expires": subscription.expires_at.isoformat(),
        "rich_notifications": True,
        "last_notification": push.last_notification.isoformat(),
        "counts": {"accepted": 1},
    }
    # Neither the webhook's address nor its secret.
    text = str(diagnostics)
    assert push.webhook_id not in text
    assert push.client_state not in text
