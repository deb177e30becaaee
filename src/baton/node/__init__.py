"""The node: scheduler, worker and reaper loops, and all of baton's policy."""

from baton.node.attempt import Outcome
from baton.node.node import ROLES, WORK_ROLES, Node, NodeConfig
from baton.node.planning import FirePlanner, plan_fires

__all__ = ["ROLES", "WORK_ROLES", "FirePlanner", "Node", "NodeConfig", "Outcome", "plan_fires"]
