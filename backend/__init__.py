"""AI Council Automation: scheduling, streaming, monitoring and analytics for 24/7 debates.

The names below are the seed README's public API (``from backend import ...``).
"""

from .analytics import AnalyticsDashboard, DebateMetrics, StreamingMetrics, SystemMetrics
from .bitrate import AdaptiveBitrateManager
from .config import Settings, load_settings
from .debates import (
    ChatCompletionsRunner,
    CommandRunner,
    DebateOutcome,
    DebateRunner,
    DemoCouncil,
    Turn,
)
from .errors import ConfigError, CouncilError, DebateFailed, DebateNotFound, StoreError
from .destinations import StreamConfig, StreamPlatform, StreamQuality
from .events import DebateEvent
from .health import AlertSeverity, CheckResult, HealthCheck, HealthStatus
from .monitoring import Alert, HealthMonitor
from .models import DebateStatus, ScheduleConfig, ScheduledDebate, ScheduleType
from .scheduler import DebateScheduler, EventTriggeredScheduler
from .storage import Store
from .streaming import MultiPlatformStreamer, StreamDestination, StreamMetrics, StreamRecorder, StreamStatus
from .supervisor import Supervisor

__all__ = [
    "AnalyticsDashboard", "DebateMetrics", "StreamingMetrics", "SystemMetrics",
    "Alert", "AlertSeverity", "CheckResult", "HealthCheck", "HealthMonitor", "HealthStatus",
    "AdaptiveBitrateManager", "MultiPlatformStreamer", "StreamConfig", "StreamDestination", "StreamMetrics",
    "StreamPlatform", "StreamQuality", "StreamRecorder", "StreamStatus",
    "ChatCompletionsRunner", "CommandRunner", "ConfigError", "CouncilError", "DebateEvent",
    "DebateFailed", "DebateNotFound", "DebateOutcome", "DebateRunner", "DebateScheduler",
    "DebateStatus", "DemoCouncil", "EventTriggeredScheduler", "ScheduleConfig", "ScheduleType",
    "ScheduledDebate", "Settings", "Store", "StoreError", "Supervisor", "Turn", "load_settings",
]
