"""The people an account follows: one batched read of everyone, at the Read interval.

Each person is a config subentry of the account (``person_flow.py``). Graph reads up
to 650 of them in one ``getPresencesByUserId`` request, so following more people
costs no more requests. The account's failure policy is shared: a wait Graph asked
for holds these reads too, and their 429 holds the account's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .const import CONF_DISPLAY_NAME, CONF_USER_ID, DOMAIN, LOGGER, SUBENTRY_PERSON
from .graph import (
    GraphPresenceClient,
    PresenceChange,
    PresenceSnapshot,
    is_object_id,
    presence_id_batches,
)
from .policy import FAILURES
from .problems import AccountProblems
from .push_freshness import PushFreshness
from .remedies import Operation


@dataclass(frozen=True, slots=True)
class Person:
    """Someone the account follows: one person subentry."""

    user_id: str
    """The directory object id, lower case."""
    display_name: str
    """The subentry's title: the name the user gave them, or the directory's."""
    subentry_id: str


@dataclass(frozen=True, slots=True)
class People:
    """What was read (or pushed) of everyone followed."""

    presences: Mapping[str, PresenceSnapshot]
    """By lower-case object id."""
    missing: frozenset[str]
    """Followed ids Graph returned nothing for: they left the directory."""


def followed_people(entry: ConfigEntry) -> dict[str, Person]:
    """Return the people ``entry`` follows, by lower-case object id."""
    people = (
        Person(
            user_id=str(subentry.data[CONF_USER_ID]).lower(),
            display_name=subentry.title
            or subentry.data.get(CONF_DISPLAY_NAME)
            or subentry.data[CONF_USER_ID],
            subentry_id=subentry.subentry_id,
        )
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_PERSON
    )
    return {person.user_id: person for person in people}


def person_device_id(account_id: str, user_id: str) -> str:
    """Name a followed person's device by the account and their object id.

    Their entities' unique ids start with it as an account's do with its id, so
    what finds an account's entity by unique id finds a person's the same way.
    """
    return f"{account_id}_person_{user_id}"


def person_device(account_id: str, person: Person) -> tuple[str, DeviceInfo]:
    """Name and describe a followed person's device (linked to the account's at setup)."""
    device_id = person_device_id(account_id, person.user_id)
    return device_id, DeviceInfo(
        identifiers={(DOMAIN, device_id)},
        name=person.display_name,
        manufacturer="Microsoft",
        model="Microsoft Teams",
        entry_type=DeviceEntryType.SERVICE,
    )


@callback
def async_link_devices(
    hass: HomeAssistant, entry: ConfigEntry, followed: Mapping[str, Person]
) -> None:
    """Show each followed person's device under the account's, once both exist.

    By the registry's device id: Home Assistant deprecates naming the parent by its
    identifiers in the device info (2026.x), and 2025.12 knows no other way there.
    """
    registry = dr.async_get(hass)
    account_id = str(entry.unique_id)
    devices = {
        identifier: device
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
        for domain, identifier in device.identifiers
        if domain == DOMAIN
    }
    if (account := devices.get(account_id)) is None:
        return
    for user_id in followed:
        device = devices.get(person_device_id(account_id, user_id))
        if device is not None and device.via_device_id != account.id:
            registry.async_update_device(device.id, via_device_id=account.id)


@callback
def async_follow_new_ids(
    hass: HomeAssistant, entry: ConfigEntry, followed: Mapping[str, Person]
) -> None:
    """Move each person's device and entities to the object id their subentry names.

    Reconfigure may pick a person under another object id (they left the
    directory and came back as a new object, or a namesake was picked): the
    entity ids automations name stay theirs, and nothing is left under the old
    id. Before the platforms add the entities, which then find them moved.
    """
    account_id = str(entry.unique_id)
    prefix = person_device_id(account_id, "")
    device_ids = {
        person.subentry_id: person_device_id(account_id, user_id)
        for user_id, person in followed.items()
    }
    entities = er.async_get(hass)
    devices = dr.async_get(hass)
    for entity in er.async_entries_for_config_entry(entities, entry.entry_id):
        device_id = device_ids.get(str(entity.config_subentry_id))
        if (
            device_id is None
            or not entity.unique_id.startswith(prefix)
            or entity.unique_id.startswith(f"{device_id}_")
        ):
            continue
        # An object id has no underscore: what follows the first one is the key.
        _, _, key = entity.unique_id.removeprefix(prefix).partition("_")
        entities.async_update_entity(
            entity.entity_id, new_unique_id=f"{device_id}_{key}"
        )
        if entity.device_id is not None:
            devices.async_update_device(
                entity.device_id, new_identifiers={(DOMAIN, device_id)}
            )


class PeopleCoordinator(DataUpdateCoordinator[People]):
    """Reads every person an account follows, in as few requests as Graph allows."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        client: GraphPresenceClient,
        problems: AccountProblems,
        freshness: PushFreshness,
        *,
        on_read: Callable[
            [Mapping[str, PresenceSnapshot], Mapping[str, PresenceSnapshot]], None
        ],
    ) -> None:
        """Read the people ``entry`` follows through ``client``.

        ``problems`` carries out failures with the account's policy; ``freshness``
        (the account's push rules) says how often to read, and what a read leaves
        of a change pushed meanwhile. The account's coordinator sets the interval,
        and is told what each read showed before and after (``on_read``): a change
        no notification announced is its watchdog's.
        """
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{entry.title} people",
            update_interval=freshness.read_interval,
            always_update=False,
        )
        self._freshness = freshness
        self.client = client
        self.problems = problems
        self.policy = problems.policy
        self.followed: Mapping[str, Person] = followed_people(entry)
        self.readable: tuple[str, ...] = tuple(
            user_id for user_id in self.followed if is_object_id(user_id)
        )
        """Whom Graph can be asked about: object ids. A person stored by anything
        else (a subentry made past the flow) is missing, not everyone's failure."""
        account_id = str(entry.unique_id)
        self.devices: Mapping[str, tuple[str, DeviceInfo]] = {
            user_id: person_device(account_id, person)
            for user_id, person in self.followed.items()
        }
        """Each person's device id and description, by object id: described once,
        shared by their six entities."""
        self._on_read = on_read

    async def _async_update_data(self) -> People:
        """Read everyone followed, unless Graph asked the account to wait.

        A change pushed while the read was on its way stays (``push_freshness``).
        """
        started = dt_util.utcnow()
        if (held := self.policy.held(Operation.READ, started)) is not None:
            return self.problems.read_failed(held, self.data)
        presences: dict[str, PresenceSnapshot] = {}
        missing = set(self.followed).difference(self.readable)
        try:
            for batch in presence_id_batches(self.readable):
                read = await self.client.get_presences(batch)
                presences.update(
                    (user_id.lower(), snapshot)
                    for user_id, snapshot in read.presences.items()
                )
                missing.update(user_id.lower() for user_id in read.missing)
        except FAILURES as err:
            return self.problems.read_failed(
                self.problems.failed(err, Operation.READ), self.data, err
            )
        self.problems.resolved(wrote=False)
        self._follow_missing(missing)
        kept = self._freshness.on_people_read(self._newest(presences), started)
        self._on_read(self.data.presences if self.data is not None else {}, kept)
        return People(kept, frozenset(missing))

    def _newest(self, read: dict[str, PresenceSnapshot]) -> dict[str, PresenceSnapshot]:
        """Keep what was shown where a read arrived older than it (a push was newer)."""
        shown = self.data.presences if self.data is not None else {}
        return {
            user_id: last
            if (last := shown.get(user_id)) is not None and snapshot.is_older_than(last)
            else snapshot
            for user_id, snapshot in read.items()
        }

    def _follow_missing(self, missing: set[str]) -> None:
        """Raise a repair for each person who left the directory; clear it on return."""
        for user_id, person in self.followed.items():
            if user_id in missing:
                self.problems.person_missing(user_id, person.display_name)
            else:
                self.problems.person_back(user_id)

    def apply_changes(self, changes: Sequence[PresenceChange]) -> None:
        """Show the pushed changes of followed people, one body's, in one update.

        A change without a presence (a basic notification) or older than what is
        shown changes nothing: reading is how to learn it. The entities are
        updated once: a body may name all 650 people, each with a few entities.
        Only changes of people shown are given: none before the first read.
        """
        presences = dict(self.data.presences)
        for change in changes:
            user_id = change.user_id.lower()
            if (
                user_id in self.followed
                and (shown := presences.get(user_id)) is not None
                and change.presence is not None
                and not change.presence.is_older_than(shown)
            ):
                presences[user_id] = change.applied_to(shown)
        if presences == self.data.presences:
            return
        # Not async_set_updated_data: that would put off the next read.
        self.data = People(presences, self.data.missing)
        self.async_update_listeners()
