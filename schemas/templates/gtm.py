"""The GTM launch template: seed 000 "5.5 GTM 里程碑规划表", transcribed as data.

Four phases, milestones M1–M9 with their deliverables (完成标准) and exit criteria, the key
dependency list, the risk matrix rows and success metrics. Blanks the seed leaves for the team
("邀请 ___ 个目标用户") stay visible as "___" so nobody mistakes them for a set target.

Spacing: the seed asks for 2–4 weeks between milestones ("里程碑之间间隔 2-4 周为宜") and draws
the first eight milestones over weeks 1–16. We use 2 weeks for the research/strategy and launch
steps and 3–4 weeks where the work is heavier: M1 +2w, M2 +2w, M3 +3w, M4 +2w, M5 +2w, M6 +3w,
M7 +3w, M8 +3w, M9 +4w (M9 at week 24). M5 (正式发布) is the target launch date.
"""
from __future__ import annotations

from gtm.schemas.templates.model import (
    DeliverableT as D,
    DependencyT,
    MetricT,
    MilestoneT as M,
    Phase,
    TaskT,
    PlanTemplate,
    RiskT,
)

PRE, LAUNCH, TRACTION, SCALE = "Pre-Launch", "Launch", "Early Traction", "Scale"
W = 7

MILESTONES = (
    M(code="M1", name="市场调研完成", en="Market research done", phase=PRE, offset_days=2 * W,
      deliverables=(D(name="ICP 定义文档", standard="完成 5.2 工作表"),
                    D(name="竞品分析报告", standard="完成 5.3 矩阵"),
                    D(name="市场规模估算", standard="TAM/SAM/SOM"),
                    D(name="客户访谈记录", standard="≥10 个访谈"),
                    D(name="定价研究", standard="价格敏感度分析")),
      exit_criteria=("ICP 定义获得团队共识", "竞品分析覆盖主要竞争对手", "市场规模有数据支撑",
                     "关键发现已记录并分享")),
    M(code="M2", name="GTM 战略确定", en="GTM strategy set", phase=PRE, offset_days=4 * W,
      deliverables=(D(name="GTM 战略文档", standard="完成 5.1 模板"),
                    D(name="定位声明", standard="April Dunford 公式"),
                    D(name="Messaging Framework", standard="核心信息框架"),
                    D(name="GTM Motion 确定", standard="PLG/SLG/Hybrid"),
                    D(name="渠道策略", standard="渠道优先级和分配")),
      exit_criteria=("战略文档获得管理层批准", "定位声明内部一致", "GTM Motion 有明确理由",
                     "预算分配已确定")),
    M(code="M3", name="发布准备就绪", en="Launch ready", phase=PRE, offset_days=7 * W,
      deliverables=(D(name="网站更新", standard="产品页、定价页上线"),
                    D(name="销售材料", standard="Deck、One-pager、Demo 脚本"),
                    D(name="营销内容", standard="博客、视频、案例"),
                    D(name="工具配置", standard="CRM、MA、Analytics"),
                    D(name="团队培训", standard="销售培训完成"),
                    D(name="支持文档", standard="FAQ、Help Center")),
      exit_criteria=("所有面向客户的材料就绪", "团队完成培训并通过测试", "工具配置完成并测试通过",
                     "Launch Checklist 100% 完成")),
    M(code="M4", name="软发布", en="Soft launch", phase=LAUNCH, offset_days=9 * W,
      deliverables=(D(name="Beta 用户邀请", standard="邀请 ___ 个目标用户"),
                    D(name="反馈收集机制", standard="调研、访谈流程建立"),
                    D(name="问题跟踪", standard="Bug/问题记录系统"),
                    D(name="初步数据分析", standard="使用数据、反馈汇总")),
      exit_criteria=("Beta 用户达到目标数量", "关键反馈已收集并分析", "重大问题已修复",
                     "Go/No-Go 决策完成")),
    M(code="M5", name="正式发布", en="General availability", phase=LAUNCH, offset_days=11 * W,
      deliverables=(D(name="发布公告", standard="公告发布、社交媒体"),
                    D(name="PR/媒体", standard="新闻稿、媒体报道"),
                    D(name="发布活动", standard="Webinar/Event"),
                    D(name="营销活动启动", standard="付费广告、邮件序列"),
                    D(name="销售启动", standard="销售开始主动触达")),
      exit_criteria=("发布活动按计划执行", "初始流量/关注度达到预期", "销售 Pipeline 开始建立",
                     "无重大技术问题")),
    M(code="M6", name="首批付费客户", en="First paying customers", phase=TRACTION,
      offset_days=14 * W,
      deliverables=(D(name="付费客户", standard="___ 个付费客户"),
                    D(name="客户案例", standard="___ 个案例/证言"),
                    D(name="销售流程验证", standard="完成首批成交"),
                    D(name="客户 Onboarding", standard="Onboarding 流程验证")),
      exit_criteria=("付费客户数量达标", "至少 ___ 个客户愿意做案例", "销售周期和转化率可预测",
                     "Onboarding 流程运行顺畅")),
    M(code="M7", name="PMF 验证", en="PMF validated", phase=TRACTION, offset_days=17 * W,
      deliverables=(D(name="PMF 调研", standard="Sean Ellis 40% 测试"),
                    D(name="留存数据", standard="初期留存率分析"),
                    D(name="NPS 调研", standard="NPS > ___"),
                    D(name="用户行为分析", standard="核心功能使用率"),
                    D(name="漏斗诊断", standard="完成 5.4 检查表")),
      exit_criteria=('PMF 调研 >40% 会"非常失望"', "早期留存率健康", "用户反馈积极",
                     "有明确的优化方向")),
    M(code="M8", name="规模化准备", en="Ready to scale", phase=SCALE, offset_days=20 * W,
      deliverables=(D(name="流程优化", standard="漏斗转化率优化"),
                    D(name="自动化建设", standard="营销/销售自动化"),
                    D(name="团队扩张计划", standard="招聘计划确定"),
                    D(name="预算扩展", standard="增量预算获批")),
      exit_criteria=("单位经济模型健康 (LTV:CAC > 3:1)", "流程可复制、可扩展", "团队准备就绪",
                     "预算和资源到位")),
    M(code="M9", name="增长目标达成", en="Growth targets met", phase=SCALE, offset_days=24 * W,
      deliverables=(D(name="收入目标", standard="ARR 达到 $_____"),
                    D(name="客户目标", standard="_____ 个客户"),
                    D(name="效率目标", standard="CAC/Magic Number"),
                    D(name="留存目标", standard="NRR > ___%")),
      exit_criteria=("核心业务指标达标", "增长势头持续", "团队能力匹配", "下一阶段计划就绪")),
)

GTM = PlanTemplate(
    key="gtm", name="GTM 里程碑规划", en="GTM milestone plan", source="seed 000 (5.5 GTM 里程碑规划表)",
    spacing="M1 +2周, M2 +2周, M3 +3周, M4 +2周, M5 +2周, M6 +3周, M7 +3周, M8 +3周, M9 +4周 "
            "(里程碑之间间隔 2-4 周; 2–4 weeks apart, M9 at week 24)",
    phases=(Phase(name=PRE, en="Pre-Launch（发布前准备）"), Phase(name=LAUNCH, en="Launch（发布）"),
            Phase(name=TRACTION, en="Early Traction（早期牵引力）"), Phase(name=SCALE, en="Scale（规模化）")),
    milestones=MILESTONES,
    # the seed's communication plan: a 里程碑 Review at every milestone (验收、决策)
    tasks=tuple(TaskT(task_id=f"{m.code}-R", name=f"{m.code} {m.name} 里程碑 Review", phase=m.phase,
                      milestone=m.code, start_offset=m.offset_days, end_offset=m.offset_days,
                      note="里程碑验收、决策（扩展团队）") for m in MILESTONES),
    risks=(RiskT(risk="产品延期"), RiskT(risk="竞品动作"), RiskT(risk="预算不足"),
           RiskT(risk="人员变动"), RiskT(risk="市场变化")),
    dependencies=(DependencyT(item="产品功能完成", party="产品团队", milestones=("M3", "M4")),
                  DependencyT(item="法务合规审批", party="法务", milestones=("M3",)),
                  DependencyT(item="预算审批", party="财务", milestones=("M8",)),
                  DependencyT(item="合作伙伴协议", party="BD", milestones=("M5",))),
    metrics=(MetricT(metric="PMF 调研“非常失望”比例", target=">40%", method="Sean Ellis 调研"),
             MetricT(metric="NPS", target="> ___", method="NPS 调研"),
             MetricT(metric="LTV:CAC", target="> 3:1", method="单位经济模型"),
             MetricT(metric="ARR", target="$_____", method="收入报表"),
             MetricT(metric="付费客户数", target="___ 个", method="CRM"),
             MetricT(metric="NRR", target="> ___%", method="留存分析")),
    launch_milestone="M5",
)
