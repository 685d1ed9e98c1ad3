"""The campaign execution template: docs/seeds/003 "营销活动策划方案执行进度表", as data.

The seed's four phases 筹备期/预热期/执行期/收尾期 and its worked example ("品牌618周年庆"):
筹备期 5.1–5.20, 预热期 5.21–5.31, 执行期 6.1–6.18, 收尾期 6.19–6.30, eight tasks with their
owners' roles (经理, 设计师, 技术, 运营, 媒介, 总监, 主播, 数据) and dates. Every offset below is
the seed's date counted from 5.1 (M001 starts on day 0), so the whole schedule moves with
`--start` and keeps the seed's rhythm. The tasks the seed's text names for a phase without a date
(预算审批 by 财务, 用户预约系统测试 by 产品 …) sit inside that phase. The two milestones are the
seed's ("5.20前完成所有物料设计定稿", "6.10前完成首波促销爆发"). The example's actual dates,
progress, status, 风险/问题 and 备注 are `ExampleT`s (shown with `gtm init --example`).
"""
from __future__ import annotations

from datetime import date

from gtm.schemas.templates.model import (
    CommunicationT as C,
    DeliverableT as D,
    ExampleT as X,
    MetricT,
    MilestoneT as M,
    OutputT,
    Phase,
    PlanTemplate,
    RiskT,
    TaskT as T,
)

PREP, WARM, EXEC, CLOSE = "筹备期", "预热期", "执行期", "收尾期"
DONE = "已完成"

CAMPAIGN = PlanTemplate(
    key="campaign", name="营销活动执行进度", en="Campaign execution schedule",
    source="docs/seeds/003-campaign-schedule.txt (营销活动策划方案执行进度表)",
    spacing="the seed's 618 example: 筹备期 day 0–19, 预热期 20–30, 执行期 31–48, 收尾期 49–60; "
            "milestones on day 19 (5.20) and day 40 (6.10)",
    goal="例：提升GMV30%，新增用户10万",
    phases=(Phase(name=PREP, en="Preparation", aliases=("筹备",)),
            Phase(name=WARM, en="Warm-up", aliases=("预热",)),
            Phase(name=EXEC, en="Execution", aliases=("执行",)),
            Phase(name=CLOSE, en="Wrap-up", aliases=("收尾",))),
    milestones=(
        M(code="MS1", name="完成所有物料设计定稿", en="All materials designed and final", phase=PREP,
          offset_days=19,
          deliverables=(D(name="活动方案终稿", standard="包含预算、流程、预案"),
                        D(name="主视觉设计", standard="包含3套方案，供总监选择"),
                        D(name="活动页", standard="已通过测试")),
          exit_criteria=("5.20前完成所有物料设计定稿（未完成将影响预热期宣传）",)),
        M(code="MS2", name="完成首波促销爆发", en="First promotion wave done", phase=EXEC, offset_days=40,
          exit_criteria=("6.10前完成首波促销爆发（未完成将影响整体GMV目标）",)),
    ),
    outputs=(OutputT(name="《活动执行复盘报告》", phase=CLOSE, offset_days=60,
                     standard="提炼可复用的成功经验和需规避的风险点，更新至团队SOP"),),
    tasks=(
        T(task_id="M001", name="活动方案终稿确认", phase=PREP, milestone="MS1", start_offset=0, end_offset=4,
          role="经理", raci=("总监", "设计部", "销售部"),
          example=X(actual_start=0, actual_end=3, progress=1.0, status=DONE, note="包含预算、流程、预案")),
        T(task_id="M002", name="主视觉设计定稿", phase=PREP, milestone="MS1", start_offset=2, end_offset=7,
          role="设计师",
          example=X(actual_start=2, actual_end=6, progress=1.0, status=DONE, note="用于线上线下宣传")),
        T(task_id="M003", name="电商平台活动页搭建", phase=PREP, milestone="MS1", start_offset=4, end_offset=11,
          role="技术",
          example=X(actual_start=4, actual_end=12, progress=1.0, status=DONE, risk_note="延期1天(服务器调试)",
                    note="已通过测试")),
        T(task_id="M004", name="预算审批", phase=PREP, milestone="MS1", start_offset=0, end_offset=6, role="财务"),
        T(task_id="M005", name="技术测试（活动页面、报名系统）", phase=PREP, milestone="MS1",
          start_offset=12, end_offset=19, role="技术"),
        T(task_id="P001", name="社交媒体海报发布(预热)", phase=WARM, start_offset=20, end_offset=24, role="运营",
          example=X(actual_start=20, actual_end=24, progress=1.0, status=DONE, note="微博、小红书同步")),
        T(task_id="P002", name="KOL样品寄送", phase=WARM, start_offset=21, end_offset=25, role="媒介",
          example=X(actual_start=21, actual_end=26, progress=1.0, status=DONE, risk_note="延期1天(物流延误)",
                    note="已与KOL沟通")),
        T(task_id="P003", name="用户预约系统测试", phase=WARM, start_offset=24, end_offset=30, role="产品"),
        T(task_id="E001", name="618大促正式上线", phase=EXEC, milestone="MS2", start_offset=31, end_offset=31,
          role="总监",
          example=X(actual_start=31, actual_end=31, progress=1.0, status=DONE, note="0点准时开抢")),
        T(task_id="E002", name="直播带货活动(专场)", phase=EXEC, milestone="MS2", start_offset=40, end_offset=40,
          role="主播",
          example=X(actual_start=40, actual_end=40, progress=1.0, status=DONE,
                    risk_note="观峰值未达预期(需优化引流)", note="转化率3.5%达标")),
        T(task_id="E003", name="实时监控数据与用户互动引导", phase=EXEC, start_offset=31, end_offset=48),
        T(task_id="C001", name="数据复盘报告", phase=CLOSE, start_offset=49, end_offset=55, role="数据",
          example=X(actual_start=49, actual_end=54, progress=1.0, status=DONE, note="提交至管理层")),
        T(task_id="C002", name="用户反馈收集", phase=CLOSE, start_offset=49, end_offset=54),
        T(task_id="C003", name="物料整理与费用结算", phase=CLOSE, start_offset=52, end_offset=60),
    ),
    risks=(RiskT(risk="技术接口可能不稳定", mitigation="准备备用技术方案"),
           RiskT(risk="KOL档期冲突", mitigation="提前2周确认KOL档期"),
           RiskT(risk="竞品突然推出同类活动",
                 mitigation="提前启动紧急预案任务（如增加限时秒杀、加大广告投放），在进度表中新增任务行，标注“新增-紧急”")),
    metrics=(MetricT(metric="预热期海报曝光量", target="100万+"),
             MetricT(metric="执行期订单量", target="突破5万单"),
             MetricT(metric="GMV", target="提升30%"),
             MetricT(metric="新增用户", target="10万"),
             MetricT(metric="直播转化率", target="3.5%")),
    communications=(C(meeting="每日站会", frequency="每日（筹备期）", purpose="快速对齐进度、解决问题",
                      form="会议"),
                    C(meeting="每周复盘会", frequency="每周（执行期）", purpose="快速对齐进度、解决问题",
                      form="会议"),
                    C(meeting="周一晨会", frequency="每周一", purpose="关键里程碑同步复盘", form="会议")),
    launch_task="E001",
    report_title="营销活动周报", report_title_en="Campaign weekly report",
    key_date="活动日期", key_date_en="Campaign date", currency="CNY",
    example_start=date(2024, 5, 1),
    strict_permissions=True,  # "负责人可编辑，成员仅查看"
)
