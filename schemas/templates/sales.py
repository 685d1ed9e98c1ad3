"""The sales project template: seed 002 "销售项目管理框架模板", five phases as data.

Each phase (启动/规划/执行/监控/收尾) becomes one milestone (S1–S5) whose deliverables are the
phase's outputs (《项目机会评估报告》, 《项目章程》, WBS, 《风险登记册》 …), its tasks are the
phase's operating steps, and its exit criteria come from the phase's "核心目标". The risk register
examples (需求变更, 技术瓶颈, 回款延迟, 供应商交货延迟) are the risk rows.

Spacing (2–4 weeks, the seed gives no calendar): S1 启动 +2w, S2 规划 +2w, S3 执行 +4w,
S4 监控 +3w (monitoring runs alongside execution; the milestone is the last review before
closing), S5 收尾 +3w: 14 weeks in all.
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

START, PLAN, EXEC, MONITOR, CLOSE = "启动", "规划", "执行", "监控", "收尾"
W = 7

SALES = PlanTemplate(
    key="sales", name="销售项目管理", en="Sales project", source="seed 002 (销售项目管理框架模板)",
    spacing="S1 +2周, S2 +2周, S3 +4周, S4 +3周, S5 +3周 (2–4 weeks apart; 14 weeks in all)",
    goal="例：6个月内完成客户系统部署，实现销售额500万元",
    phases=(Phase(name=START, en="Initiation"), Phase(name=PLAN, en="Planning"),
            Phase(name=EXEC, en="Execution"), Phase(name=MONITOR, en="Monitoring"),
            Phase(name=CLOSE, en="Closing")),
    milestones=(
        M(code="S1", name="项目启动完成", en="Project initiated", phase=START, offset_days=2 * W,
          deliverables=(D(name="《项目机会评估报告》", standard="包含可行性评分(1-5分)及关键风险提示"),
                        D(name="核心项目团队与职责分工", standard="项目经理、客户接口人、技术/产品支持、交付负责人已确定"),
                        D(name="《项目章程》", standard="启动会上签署，明确项目成功标准")),
          exit_criteria=("项目边界与核心目标已定义", "关键干系人已识别",
                         "项目目标、时间节点、沟通机制已在启动会同步", "获得正式授权（项目章程已签署）")),
        M(code="S2", name="项目规划完成", en="Plan approved", phase=PLAN, offset_days=4 * W,
          deliverables=(D(name="WBS 三级任务清单", standard="任务到人、责任到岗"),
                        D(name="甘特图进度计划", standard="各任务起止时间与依赖关系明确"),
                        D(name="《资源分配表》", standard="人力、物料、预算已分配"),
                        D(name="《风险登记册》", standard="包含风险等级(高/中/低)、应对措施、责任人"),
                        D(name="沟通计划与文档规范", standard="沟通频率、参与人员、输出物已明确")),
          exit_criteria=("目标已拆解为可执行任务", "资源需求与时间计划已确认", "风险预案已制定")),
        M(code="S3", name="方案与合同确认", en="Solution and contract agreed", phase=EXEC,
          offset_days=8 * W,
          deliverables=(D(name="《需求说明书》", standard="双方签字确认"),
                        D(name="《解决方案》", standard="包含功能清单、技术架构、实施周期，通过客户评审"),
                        D(name="合同", standard="法务审核交付标准、付款方式、违约责任，与项目章程一致"),
                        D(name="《阶段性验收报告》", standard="关键节点客户参与验收并签署")),
          exit_criteria=("客户需求已确认并签字", "合同已签订", "实施资源按时到位")),
        M(code="S4", name="进度与质量受控", en="Progress and quality under control", phase=MONITOR,
          offset_days=11 * W,
          deliverables=(D(name="《项目进度表》", standard="每周更新，对比计划与实际"),
                        D(name="《变更申请》", standard="预算超支10%以上时提交，说明原因及补救措施"),
                        D(name="《风险登记册》更新", standard="每周跟踪高风险项"),
                        D(name="《满意度问卷》", standard="每阶段结束后发放并收集反馈")),
          exit_criteria=("进度、成本偏差已识别并纠正", "交付物通过内部评审",
                         "超期问题已按升级机制处理（3天→项目经理，1周→管理层）")),
        M(code="S5", name="项目验收与复盘", en="Accepted and reviewed", phase=CLOSE,
          offset_days=14 * W,
          deliverables=(D(name="《项目验收报告》", standard="对照项目章程确认交付成果并签署"),
                        D(name="《回款跟踪表》", standard="按合同开票并跟进回款"),
                        D(name="《项目复盘报告》", standard="目标完成情况、成功经验、改进点"),
                        D(name="项目资料归档", standard="合同、方案、验收报告、复盘报告已归档")),
          exit_criteria=("客户最终验收通过", "回款按合同约定到账", "经验教训已沉淀", "资源已释放")),
    ),
    tasks=(
        T(task_id="S1-01", name="需求调研与机会评估", phase=START, milestone="S1", start_offset=0, end_offset=6),
        T(task_id="S1-02", name="组建核心项目团队", phase=START, milestone="S1", start_offset=3, end_offset=9),
        T(task_id="S1-03", name="召开项目启动会", phase=START, milestone="S1", start_offset=10, end_offset=13),
        T(task_id="S2-01", name="工作分解结构(WBS)制定", phase=PLAN, milestone="S2", start_offset=14, end_offset=19),
        T(task_id="S2-02", name="进度计划与资源分配", phase=PLAN, milestone="S2", start_offset=17, end_offset=23),
        T(task_id="S2-03", name="风险识别与预案制定", phase=PLAN, milestone="S2", start_offset=19, end_offset=25),
        T(task_id="S2-04", name="沟通计划与文档规范", phase=PLAN, milestone="S2", start_offset=22, end_offset=27),
        T(task_id="S3-01", name="需求确认与方案交付", phase=EXEC, milestone="S3", start_offset=28, end_offset=41),
        T(task_id="S3-02", name="合同签订与资源协调", phase=EXEC, milestone="S3", start_offset=38, end_offset=50),
        T(task_id="S3-03", name="客户沟通与关系维护", phase=EXEC, milestone="S3", start_offset=28, end_offset=55),
        T(task_id="S4-01", name="进度与成本跟踪", phase=MONITOR, milestone="S4", start_offset=28, end_offset=76),
        T(task_id="S4-02", name="风险监控与问题解决", phase=MONITOR, milestone="S4", start_offset=28, end_offset=76),
        T(task_id="S4-03", name="质量管控与满意度调研", phase=MONITOR, milestone="S4", start_offset=56, end_offset=76),
        T(task_id="S5-01", name="最终验收与回款", phase=CLOSE, milestone="S5", start_offset=77, end_offset=90),
        T(task_id="S5-02", name="项目复盘会", phase=CLOSE, milestone="S5", start_offset=88, end_offset=94),
        T(task_id="S5-03", name="资料归档与资源释放", phase=CLOSE, milestone="S5", start_offset=91, end_offset=97),
    ),
    risks=(RiskT(risk="客户需求变更", mitigation="需求变更需走书面流程，额外费用由客户承担"),
           RiskT(risk="技术瓶颈"),
           RiskT(risk="回款延迟", mitigation="按合同约定跟进回款，更新《回款跟踪表》"),
           RiskT(risk="核心供应商交货延迟", mitigation="启动备选供应商对接")),
    metrics=(MetricT(metric="销售额", target="例：500万元", method="合同与回款"),
             MetricT(metric="客户验收通过率", target="≥95%", method="《项目验收报告》"),
             MetricT(metric="回款周期", target="≤30天", method="《回款跟踪表》")),
    launch_milestone="S5",
)
