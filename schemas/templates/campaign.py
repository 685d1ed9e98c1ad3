"""The campaign execution template: seed 003 "营销活动策划方案执行进度表", as data.

Four phases 筹备/预热/执行/收尾, task ids by phase as in the seed (M… 筹备, P… 预热, E… 执行,
C… 收尾); the seed's example rows plus the tasks its text names (预算审批, 用户预约系统测试,
实时监控数据, 用户反馈收集, 物料整理、费用结算). RACI (负责人/审批人/咨询人/知会人) is left empty:
the team fills it in. One milestone closes each phase (the seed: 每个阶段设置1-2个关键里程碑).

Spacing: the seed's 618 example runs 筹备 20 days, 预热 11, 执行 18, 收尾 12. Kept within the
2–4 week milestone rhythm: 筹备 3 weeks (MS1 day 20), 预热 2 weeks (MS2 day 34), 执行 3 weeks
(MS3 day 55), 收尾 2 weeks (MS4 day 69); task offsets follow the seed's order inside each phase.
"""
from __future__ import annotations

from gtm.schemas.templates.model import (
    DeliverableT as D,
    MetricT,
    MilestoneT as M,
    Phase,
    PlanTemplate,
    RiskT,
    TaskT as T,
)

PREP, WARM, EXEC, CLOSE = "筹备", "预热", "执行", "收尾"

CAMPAIGN = PlanTemplate(
    key="campaign", name="营销活动执行进度", en="Campaign execution schedule",
    source="seed 003 (营销活动策划方案执行进度表)",
    spacing="MS1 第20天(筹备3周), MS2 第34天(预热2周), MS3 第55天(执行3周), MS4 第69天(收尾2周)",
    goal="例：提升GMV 30%，新增用户10万",
    phases=(Phase(name=PREP, en="Preparation"), Phase(name=WARM, en="Warm-up"),
            Phase(name=EXEC, en="Execution"), Phase(name=CLOSE, en="Wrap-up")),
    milestones=(
        M(code="MS1", name="物料设计全部定稿", en="All materials final", phase=PREP, offset_days=20,
          deliverables=(D(name="活动方案终稿", standard="包含预算、流程、预案"),
                        D(name="主视觉设计", standard="包含3套方案，供总监选择"),
                        D(name="活动页", standard="通过测试")),
          exit_criteria=("所有物料设计定稿（未完成将影响预热期宣传）", "预算已审批")),
        M(code="MS2", name="预热到位", en="Warm-up done", phase=WARM, offset_days=34,
          deliverables=(D(name="预热海报", standard="微博、小红书同步发布"),
                        D(name="KOL样品", standard="寄达并与KOL确认档期"),
                        D(name="用户预约系统", standard="测试通过")),
          exit_criteria=("宣传造势按计划完成", "用户预约/报名达到预期")),
        M(code="MS3", name="首波促销爆发", en="First promotion wave", phase=EXEC, offset_days=55,
          deliverables=(D(name="活动正式上线", standard="准时上线"),
                        D(name="直播专场", standard="观看与转化数据达标")),
          exit_criteria=("首波促销爆发完成（未完成将影响整体GMV目标）", "数据实时监控无重大异常")),
        M(code="MS4", name="活动复盘完成", en="Campaign reviewed", phase=CLOSE, offset_days=69,
          deliverables=(D(name="《活动执行复盘报告》", standard="提炼可复用经验和需规避风险点，更新至团队SOP"),
                        D(name="费用结算", standard="所有费用已结算")),
          exit_criteria=("复盘报告已提交管理层", "用户反馈已收集", "物料已整理")),
    ),
    tasks=(
        T(task_id="M001", name="活动方案终稿确认", phase=PREP, milestone="MS1", start_offset=0, end_offset=4,
          note="包含预算、流程、预案", consulted="设计部", informed="销售部"),  # seed 003's RACI example
        T(task_id="M002", name="主视觉设计定稿", phase=PREP, milestone="MS1", start_offset=2, end_offset=7,
          note="用于线上线下宣传"),
        T(task_id="M003", name="活动页搭建", phase=PREP, milestone="MS1", start_offset=4, end_offset=11),
        T(task_id="M004", name="预算审批", phase=PREP, milestone="MS1", start_offset=0, end_offset=6),
        T(task_id="M005", name="技术测试（活动页面、报名系统）", phase=PREP, milestone="MS1",
          start_offset=12, end_offset=19),
        T(task_id="P001", name="社交媒体海报发布(预热)", phase=WARM, milestone="MS2", start_offset=21,
          end_offset=25, note="微博、小红书同步"),
        T(task_id="P002", name="KOL样品寄送", phase=WARM, milestone="MS2", start_offset=22, end_offset=26),
        T(task_id="P003", name="用户预约系统测试", phase=WARM, milestone="MS2", start_offset=24, end_offset=30),
        T(task_id="E001", name="活动正式上线", phase=EXEC, milestone="MS3", start_offset=35, end_offset=35),
        T(task_id="E002", name="直播带货活动(专场)", phase=EXEC, milestone="MS3", start_offset=44, end_offset=44),
        T(task_id="E003", name="实时监控数据与用户互动引导", phase=EXEC, milestone="MS3", start_offset=35,
          end_offset=55),
        T(task_id="C001", name="数据复盘报告", phase=CLOSE, milestone="MS4", start_offset=56, end_offset=62,
          note="提交至管理层"),
        T(task_id="C002", name="用户反馈收集", phase=CLOSE, milestone="MS4", start_offset=56, end_offset=61),
        T(task_id="C003", name="物料整理与费用结算", phase=CLOSE, milestone="MS4", start_offset=58, end_offset=69),
    ),
    risks=(RiskT(risk="技术接口可能不稳定", mitigation="准备备用技术方案"),
           RiskT(risk="KOL档期冲突", mitigation="提前2周确认KOL档期"),
           RiskT(risk="竞品突然推出同类活动", mitigation="启动紧急预案任务（如增加限时秒杀、加大广告投放）"),
           RiskT(risk="物流延误", mitigation="样品提前寄送并跟踪物流")),
    metrics=(MetricT(metric="预热期海报曝光量", target="100万+", method="社交媒体数据"),
             MetricT(metric="执行期订单量", target="5万单", method="电商平台数据"),
             MetricT(metric="GMV 提升", target="30%", method="电商平台数据"),
             MetricT(metric="直播转化率", target="3.5%", method="直播数据")),
    launch_milestone="MS3",
)
