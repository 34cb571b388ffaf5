"""Offers: DRF between frameworks, decline filters, revive, suppress, rescinds."""

from __future__ import annotations

import libprocess
from libprocess.testing import future_message, settle
from mesos.protos.mesos import mesos_pb2
from mesos.protos.messages import messages_pb2


def test_offer_carries_the_agent(kit, clock, master, start_agent, start_scheduler):
    """This test ensures that an offer names the framework, the agent (id, hostname, pid,
    attributes, url) and the agent's resources allocated to the framework's role, and that
    a pre-MULTI_ROLE framework sees no allocation info."""
    attribute = mesos_pb2.Attribute(name="rack", type=mesos_pb2.Value.TEXT)
    attribute.text.value = "r1"
    agent = start_agent(master, attributes=[attribute])
    offers = future_message(messages_pb2.ResourceOffersMessage, master)

    scheduler = start_scheduler(master)

    message = offers.get(kit.TIMEOUT)
    assert list(message.pids) == [str(agent.upid)]
    offer = message.offers[0]
    assert offer.id.value == f"{master.info.id}-O0"
    assert offer.framework_id.value == scheduler.framework_id
    assert offer.slave_id.value == agent.slave_id
    assert offer.hostname == "agent.example.org"
    assert offer.attributes[0].text.value == "r1"
    assert offer.url.path == f"/{agent.upid.id}"
    assert offer.url.address.port == 5051
    assert {r.name: r for r in offer.resources}["cpus"].scalar.value == 2.0
    assert not offer.HasField("allocation_info")
    assert all(not r.HasField("allocation_info") for r in offer.resources)
    assert kit.on(master, lambda: len(master.offers)) == 1


def test_multi_role_framework_sees_allocation_roles(kit, clock, master, start_agent,
                                                    start_scheduler):
    """This test ensures that a MULTI_ROLE framework's offer says which role it is for."""
    start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)

    start_scheduler(master, kit.framework_info(roles=["web"]))

    offer = offers.get(kit.TIMEOUT).offers[0]
    assert offer.allocation_info.role == "web"
    assert all(r.allocation_info.role == "web" for r in offer.resources)


def test_drf_offers_to_the_framework_with_the_lower_share(kit, clock, master, start_agent,
                                                          start_scheduler):
    """This test ensures that offers follow Dominant Resource Fairness: a new agent goes to
    the framework with the lowest dominant share, and resources freed by a finished task go
    back to the framework that now has the lowest share."""
    agent1 = start_agent(master)

    # 1. Framework A gets agent1 and uses all of it.
    offers_a = future_message(messages_pb2.ResourceOffersMessage, master)
    a = start_scheduler(master, kit.framework_info("A"))
    offer = offers_a.get(kit.TIMEOUT).offers[0]
    run = future_message(messages_pb2.RunTaskMessage, master, agent1)
    libprocess.dispatch(a, a.call, kit.accept_call(
        [offer.id.value], [kit.task_info("big", agent1.slave_id,
                                         "cpus:2;mem:1024;disk:1024")]))
    run.get(kit.TIMEOUT)

    # 2. Framework B subscribes: nothing is free.
    b = start_scheduler(master, kit.framework_info("B"))
    settle()
    assert kit.on(b, lambda: b.offers) == []

    # 3. A new agent goes to B, whose share (0) is below A's.
    offers_b = future_message(messages_pb2.ResourceOffersMessage, master, b)
    agent2 = start_agent(master, hostname="agent2.example.org")
    assert offers_b.get(kit.TIMEOUT).offers[0].slave_id.value == agent2.slave_id
    settle()
    assert kit.on(a, lambda: len(a.offers)) == 1

    # 4. A's task finishes: agent1's resources go to A, now the lower share.
    offers_a = future_message(messages_pb2.ResourceOffersMessage, master, a)
    update = future_message(messages_pb2.StatusUpdateMessage, master, a)
    uuid = libprocess.dispatch(agent1, agent1.update, a.framework_id, "big",
                               mesos_pb2.TASK_FINISHED).get(kit.TIMEOUT)
    update.get(kit.TIMEOUT)
    libprocess.dispatch(a, a.call, kit.acknowledge_call(agent1.slave_id, "big", uuid))
    assert offers_a.get(kit.TIMEOUT).offers[0].slave_id.value == agent1.slave_id


def test_two_frameworks_share_two_agents(kit, clock, master, start_agent, start_scheduler):
    """This test ensures that two frameworks subscribed before any agent get one agent
    each: after the first agent goes to one of them, DRF gives the second to the other."""
    a = start_scheduler(master, kit.framework_info("A"))
    b = start_scheduler(master, kit.framework_info("B"))

    start_agent(master)
    start_agent(master, hostname="agent2.example.org")
    settle()

    offers_a = kit.on(a, lambda: list(a.offers))
    offers_b = kit.on(b, lambda: list(b.offers))
    assert len(offers_a) == 1 and len(offers_b) == 1
    assert offers_a[0].slave_id != offers_b[0].slave_id


def test_decline_with_filter_refuses_the_agent_for_a_while(kit, clock, master, start_agent,
                                                           start_scheduler):
    """This test ensures that a declined offer's resources are not offered again to the
    framework until `refuse_seconds` have passed."""
    start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master)
    offer = offers.get(kit.TIMEOUT).offers[0]

    libprocess.dispatch(scheduler, scheduler.call,
                        kit.decline_call([offer.id.value], refuse_seconds=10))
    settle()
    assert kit.on(master, lambda: master.offers) == {}
    assert master.metrics.messages_decline_offers.value == 1

    clock.advance(5)
    settle()
    assert kit.on(scheduler, lambda: len(scheduler.offers)) == 1

    offers = future_message(messages_pb2.ResourceOffersMessage, master, scheduler)
    clock.advance(6)
    assert offers.get(kit.TIMEOUT).offers[0].slave_id == offer.slave_id


def test_decline_without_filter_refuses_for_five_seconds(kit, clock, master, start_agent,
                                                         start_scheduler):
    """This test ensures that a decline without filters refuses the resources for the
    default 5 seconds, as `Filters.refuse_seconds` defaults to 5."""
    start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master)
    offer = offers.get(kit.TIMEOUT).offers[0]

    libprocess.dispatch(scheduler, scheduler.call, kit.decline_call([offer.id.value]))
    settle()
    clock.advance(4)
    settle()
    assert kit.on(scheduler, lambda: len(scheduler.offers)) == 1

    offers = future_message(messages_pb2.ResourceOffersMessage, master, scheduler)
    clock.advance(2)
    offers.get(kit.TIMEOUT)


def test_declined_resources_go_to_another_framework(kit, clock, master, start_agent,
                                                    start_scheduler):
    """This test ensures that resources one framework declined are offered to another."""
    start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    a = start_scheduler(master, kit.framework_info("A"))
    offer = offers.get(kit.TIMEOUT).offers[0]
    b = start_scheduler(master, kit.framework_info("B"))
    offers_b = future_message(messages_pb2.ResourceOffersMessage, master, b)

    libprocess.dispatch(a, a.call, kit.decline_call([offer.id.value], refuse_seconds=100))

    assert offers_b.get(kit.TIMEOUT).offers[0].slave_id == offer.slave_id


def test_revive_clears_filters(kit, clock, master, start_agent, start_scheduler):
    """This test ensures that REVIVE removes the framework's decline filters, so the
    declined resources are offered again at once."""
    start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master)
    offer = offers.get(kit.TIMEOUT).offers[0]
    libprocess.dispatch(scheduler, scheduler.call,
                        kit.decline_call([offer.id.value], refuse_seconds=1000))
    settle()

    offers = future_message(messages_pb2.ResourceOffersMessage, master, scheduler)
    libprocess.dispatch(scheduler, scheduler.call, kit.Call(type=kit.Call.REVIVE))

    assert offers.get(kit.TIMEOUT).offers[0].slave_id == offer.slave_id
    assert master.metrics.messages_revive_offers.value == 1


def test_legacy_revive_message(kit, clock, master, start_agent, start_scheduler):
    """This test ensures that the legacy ReviveOffersMessage revives like REVIVE."""
    start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master)
    offer = offers.get(kit.TIMEOUT).offers[0]
    libprocess.dispatch(scheduler, scheduler.call,
                        kit.decline_call([offer.id.value], refuse_seconds=1000))
    settle()

    offers = future_message(messages_pb2.ResourceOffersMessage, master, scheduler)
    libprocess.dispatch(scheduler, scheduler.send_to_master, messages_pb2.ReviveOffersMessage(
        framework_id=mesos_pb2.FrameworkID(value=scheduler.framework_id)))

    offers.get(kit.TIMEOUT)


def test_suppress_stops_offers_until_revive(kit, clock, master, start_agent, start_scheduler):
    """This test ensures that a suppressed framework gets no offers, even once its decline
    filter expired, until it revives."""
    start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master)
    offer = offers.get(kit.TIMEOUT).offers[0]

    libprocess.dispatch(scheduler, scheduler.call, kit.Call(type=kit.Call.SUPPRESS))
    libprocess.dispatch(scheduler, scheduler.call,
                        kit.decline_call([offer.id.value], refuse_seconds=1))
    settle()
    for _ in range(5):
        clock.advance(1)
        settle()
    assert kit.on(scheduler, lambda: len(scheduler.offers)) == 1
    assert master.metrics.messages_suppress_offers.value == 1

    offers = future_message(messages_pb2.ResourceOffersMessage, master, scheduler)
    libprocess.dispatch(scheduler, scheduler.call, kit.Call(type=kit.Call.REVIVE))
    offers.get(kit.TIMEOUT)


def test_suppress_of_a_foreign_role_is_dropped(kit, clock, master, start_agent,
                                               start_scheduler):
    """This test ensures that a SUPPRESS naming a role the framework did not subscribe to
    is dropped whole (the framework keeps getting offers)."""
    start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master, kit.framework_info(roles=["web"]))
    offer = offers.get(kit.TIMEOUT).offers[0]
    call = kit.Call(type=kit.Call.SUPPRESS)
    call.suppress.roles.append("db")
    libprocess.dispatch(scheduler, scheduler.call, call)
    settle()
    assert master.metrics.dropped_messages.value == 1

    offers = future_message(messages_pb2.ResourceOffersMessage, master, scheduler)
    libprocess.dispatch(scheduler, scheduler.call,
                        kit.decline_call([offer.id.value], refuse_seconds=1))
    settle()
    clock.advance(1.5)
    offers.get(kit.TIMEOUT)


def test_offer_timeout_rescinds(kit, clock, start_master, start_agent, start_scheduler):
    """This test ensures that with `--offer_timeout` an unanswered offer is rescinded."""
    master = start_master(offer_timeout=30.0)
    start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master)
    offer = offers.get(kit.TIMEOUT).offers[0]
    rescinded = future_message(messages_pb2.RescindResourceOfferMessage, master, scheduler)

    clock.advance(29)
    settle()
    assert not rescinded.is_ready()
    clock.advance(2)

    assert rescinded.get(kit.TIMEOUT).offer_id == offer.id
    settle()
    assert offer.id.value not in kit.on(master, lambda: list(master.offers))


def test_deactivated_framework_loses_its_offers(kit, clock, master, start_agent,
                                                start_scheduler):
    """This test ensures that a DeactivateFrameworkMessage (the driver's abort) rescinds the
    framework's offers and stops new ones."""
    start_agent(master)
    offers = future_message(messages_pb2.ResourceOffersMessage, master)
    scheduler = start_scheduler(master)
    offer = offers.get(kit.TIMEOUT).offers[0]
    rescinded = future_message(messages_pb2.RescindResourceOfferMessage, master, scheduler)

    libprocess.dispatch(scheduler, scheduler.send_to_master,
                        messages_pb2.DeactivateFrameworkMessage(
                            framework_id=mesos_pb2.FrameworkID(value=scheduler.framework_id)))

    assert rescinded.get(kit.TIMEOUT).offer_id == offer.id
    settle()
    framework = kit.on(master, lambda: master.frameworks[scheduler.framework_id])
    assert not framework.active() and framework.connected()
    clock.advance(10)
    settle()
    assert kit.on(scheduler, lambda: len(scheduler.offers)) == 1
